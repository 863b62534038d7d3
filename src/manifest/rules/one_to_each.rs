//! `one-to-each`: the first URL (a shared package, e.g. kops' Debian kbuild) paired with
//! each other URL.

use super::{GroupError, Set};

/// `[a, b, c]` → `[[a, b], [a, c]]`; fewer than two URLs is an error.
pub fn group(urls: &[String]) -> Result<Vec<Set>, GroupError> {
    let [first, rest @ ..] = urls else {
        return Err(GroupError::general(
            "one-to-each needs at least two URLs, the list is empty",
        ));
    };
    if rest.is_empty() {
        return Err(GroupError::at(
            first,
            "one-to-each needs at least two URLs, got only this one",
        ));
    }
    Ok(rest
        .iter()
        .map(|u| vec![first.clone(), u.clone()])
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::strings;

    #[test]
    fn first_with_each() {
        let got = super::group(&strings(&["k", "a", "b"])).unwrap();
        assert_eq!(got, vec![strings(&["k", "a"]), strings(&["k", "b"])]);
    }

    #[test]
    fn needs_two_urls() {
        assert!(super::group(&[]).is_err());
        let err = super::group(&strings(&["k"])).unwrap_err();
        assert_eq!(err.url.as_deref(), Some("k"));
    }
}
