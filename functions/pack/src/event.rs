//! The pack request: `{"id"}`, `{"kernel"}`, a bare string (an id when it is 64 hex chars), or
//! `{"list_missing": true}` (the state machine's first step). An object may carry `"arch"`
//! (`amd64`, `arm64`; the state machine's items do): the set must be of that architecture.

use kernel_packer::pack::arch::Arch;
use serde_json::Value;

/// The `"arch"` of an object event (`None` when absent); any spelling `lookup --arch` takes.
pub fn arch(v: &Value) -> Result<Option<Arch>, String> {
    match v.get("arch") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(a)) => kernel_packer::lookup::parse_arch(a)
            .map(Some)
            .map_err(|e| format!("{e:#}")),
        Some(_) => Err("\"arch\" must be a string (amd64, arm64)".into()),
    }
}

/// What to pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Id(String),
    Kernel(String),
    ListMissing,
}

/// Parses an (unwrapped) event into a request; errors say what is expected.
pub fn request(v: &Value) -> Result<Request, String> {
    let s = |x: &Value| {
        x.as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    match v {
        Value::String(_) => {
            let t = s(v).ok_or("empty request")?;
            Ok(if kernel_packer::index::validate_id(&t).is_ok() {
                Request::Id(t)
            } else {
                Request::Kernel(t)
            })
        }
        Value::Object(o) if o.get("list_missing") == Some(&Value::Bool(true)) => {
            Ok(Request::ListMissing)
        }
        Value::Object(o) => match (o.get("id"), o.get("kernel")) {
            (Some(id), None) => s(id)
                .map(Request::Id)
                .ok_or_else(|| "\"id\" must be a non-empty string".into()),
            (None, Some(k)) => s(k)
                .map(Request::Kernel)
                .ok_or_else(|| "\"kernel\" must be a non-empty string".into()),
            (Some(_), Some(_)) => Err("give either \"id\" or \"kernel\", not both".into()),
            (None, None) => Err("event has neither \"id\" nor \"kernel\"".into()),
        },
        _ => Err("event must be {\"id\": ...} or {\"kernel\": ...}".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn direct_and_step_functions_items() {
        let id = "a".repeat(64);
        assert_eq!(
            request(&json!({"id": id})).unwrap(),
            Request::Id(id.clone())
        );
        assert_eq!(
            request(&json!({"kernel": "6.1.0-1-amd64"})).unwrap(),
            Request::Kernel("6.1.0-1-amd64".into())
        );
        assert_eq!(request(&json!(id)).unwrap(), Request::Id(id.clone()));
        assert_eq!(
            request(&json!({"list_missing": true})).unwrap(),
            Request::ListMissing
        );
        assert_eq!(
            request(&json!("5.4.0-1")).unwrap(),
            Request::Kernel("5.4.0-1".into())
        );
        assert!(request(&json!({})).unwrap_err().contains("neither"));
        assert!(request(&json!({"id": id, "kernel": "x"}))
            .unwrap_err()
            .contains("not both"));
        assert!(request(&json!({"id": 3})).is_err());
        assert!(request(&json!([1])).is_err());
    }

    #[test]
    fn items_carry_their_arch() {
        let id = "a".repeat(64);
        assert_eq!(arch(&json!({"id": id})).unwrap(), None);
        assert_eq!(
            arch(&json!({"id": id, "arch": "arm64", "needs_toolchain": false})).unwrap(),
            Some(Arch::Arm64)
        );
        assert_eq!(
            arch(&json!({"kernel": "x", "arch": "x86_64"})).unwrap(),
            Some(Arch::Amd64)
        );
        assert!(arch(&json!({"id": id, "arch": "mips"}))
            .unwrap_err()
            .contains("mips"));
        assert!(arch(&json!({"id": id, "arch": 1})).is_err());
        assert_eq!(arch(&json!(id)).unwrap(), None);
    }
}
