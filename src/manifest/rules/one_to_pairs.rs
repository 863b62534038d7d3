//! `one-to-pairs`: the first URL with each following pair of URLs.

use super::{GroupError, Set};

/// `[a, b, c, d, e]` → `[[a, b, c], [a, d, e]]`; needs an odd count of at least three.
pub fn group(urls: &[String]) -> Result<Vec<Set>, GroupError> {
    if urls.len() < 3 || urls.len() % 2 == 0 {
        let why = format!(
            "one-to-pairs needs one shared URL followed by pairs (an odd count >= 3), got {} URLs",
            urls.len()
        );
        return Err(match urls.last() {
            Some(last) => GroupError::at(last, why),
            None => GroupError::general(why),
        });
    }
    let first = &urls[0];
    Ok(urls[1..]
        .chunks(2)
        .map(|pair| vec![first.clone(), pair[0].clone(), pair[1].clone()])
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::strings;

    #[test]
    fn first_with_each_pair() {
        let got = super::group(&strings(&["a", "b", "c", "d", "e"])).unwrap();
        assert_eq!(
            got,
            vec![strings(&["a", "b", "c"]), strings(&["a", "d", "e"])]
        );
    }

    #[test]
    fn even_count_names_the_dangling_url() {
        let err = super::group(&strings(&["a", "b", "c", "d"])).unwrap_err();
        assert_eq!(err.url.as_deref(), Some("d"));
        assert!(err.reason.contains("odd count"));
        assert!(super::group(&[]).is_err());
    }
}
