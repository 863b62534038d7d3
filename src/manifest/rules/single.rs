//! `single`: every URL is its own set.

use super::Set;

/// `[a, b, c]` → `[[a], [b], [c]]`.
pub fn group(urls: &[String]) -> Vec<Set> {
    urls.iter().map(|u| vec![u.clone()]).collect()
}

#[cfg(test)]
mod tests {
    use super::super::strings;

    #[test]
    fn each_url_alone() {
        let got = super::group(&strings(&["a", "b"]));
        assert_eq!(got, vec![strings(&["a"]), strings(&["b"])]);
    }
}
