//! Package list files: one URL per line; surrounding whitespace, blank lines and lines
//! starting with `#` are ignored. Order is kept (some rules depend on it).

use std::io::BufRead;

/// Reads a list's URLs from `reader`.
pub fn read(reader: impl BufRead) -> std::io::Result<Vec<String>> {
    let mut urls = Vec::new();
    for line in reader.lines() {
        let line = line?;
        let line = line.trim();
        if !line.is_empty() && !line.starts_with('#') {
            urls.push(line.to_string());
        }
    }
    Ok(urls)
}

#[cfg(test)]
mod tests {
    #[test]
    fn skips_blanks_and_comments_keeps_order() {
        let text = "# header\nhttp://b/2\n\n  http://a/1  \r\n#http://c/3\n";
        assert_eq!(
            super::read(text.as_bytes()).unwrap(),
            vec!["http://b/2", "http://a/1"]
        );
    }
}
