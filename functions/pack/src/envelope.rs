//! Lambda event envelopes shared by the functions: direct invoke / Step Functions item, or a Lambda
//! Function URL request (`requestContext` + `body`, maybe base64), and the matching reply shapes.

use base64::Engine;
use lambda_runtime::Diagnostic;
use serde_json::{json, Value};

/// How the caller wants the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    /// Direct invoke or Step Functions: the result object, or a Lambda error.
    Direct,
    /// Function URL: an HTTP response object.
    Http,
}

impl Envelope {
    /// Formats a success.
    pub fn ok(self, v: Value) -> Value {
        match self {
            Envelope::Direct => v,
            Envelope::Http => http_response(200, &v),
        }
    }

    /// Formats a failure: an HTTP response for Function URL callers, a Lambda error otherwise.
    pub fn fail(
        self,
        status: u16,
        d: Diagnostic,
        extra: Option<Value>,
    ) -> Result<Value, Diagnostic> {
        match self {
            Envelope::Http => {
                let mut body = json!({"error": d.error_message, "type": d.error_type});
                if let Some(Value::Object(m)) = extra {
                    body.as_object_mut().expect("object").extend(m);
                }
                Ok(http_response(status, &body))
            }
            Envelope::Direct => Err(d),
        }
    }
}

/// A Lambda error.
pub fn diag(kind: &str, msg: impl Into<String>) -> Diagnostic {
    Diagnostic {
        error_type: kind.to_string(),
        error_message: msg.into(),
    }
}

/// A Function URL response.
pub fn http_response(status: u16, body: &Value) -> Value {
    json!({
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": body.to_string(),
    })
}

/// Unwraps a Function URL request (its JSON body) or returns the event itself.
pub fn unwrap(event: &Value) -> Result<(Value, Envelope), (Envelope, String)> {
    let is_http = event.get("rawPath").is_some()
        || (event.get("requestContext").is_some() && event.get("version").is_some());
    if !is_http {
        return Ok((event.clone(), Envelope::Direct));
    }
    let fail = |m: String| (Envelope::Http, m);
    let body = match event.get("body") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(fail("request has no body".into())),
    };
    let body = if event.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(body.trim())
            .map_err(|e| fail(format!("body is not valid base64: {e}")))?;
        String::from_utf8(raw).map_err(|_| fail("body is not UTF-8".into()))?
    } else {
        body
    };
    let inner = serde_json::from_str(&body).map_err(|e| fail(format!("body is not JSON: {e}")))?;
    Ok((inner, Envelope::Http))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_url_events_are_unwrapped() {
        let ev = json!({"version": "2.0", "rawPath": "/", "requestContext": {"http": {"method": "POST"}},
                        "body": "{\"kernel\":\"6.1.0-1-amd64\"}", "isBase64Encoded": false});
        assert_eq!(
            unwrap(&ev).unwrap(),
            (json!({"kernel": "6.1.0-1-amd64"}), Envelope::Http)
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode("{\"id\":\"x\"}");
        let ev = json!({"version": "2.0", "rawPath": "/", "requestContext": {}, "body": b64, "isBase64Encoded": true});
        assert_eq!(unwrap(&ev).unwrap().0, json!({"id": "x"}));
        let ev = json!({"version": "2.0", "rawPath": "/", "requestContext": {}, "body": "nope"});
        assert_eq!(unwrap(&ev).unwrap_err().0, Envelope::Http);
        let ev = json!({"version": "2.0", "rawPath": "/", "requestContext": {}});
        assert!(unwrap(&ev).unwrap_err().1.contains("no body"));
        assert_eq!(unwrap(&json!({"id": "y"})).unwrap().1, Envelope::Direct);
    }

    #[test]
    fn replies() {
        let r = Envelope::Http.ok(json!({"a": 1}));
        assert_eq!(r["statusCode"], 200);
        assert_eq!(r["body"], "{\"a\":1}");
        assert_eq!(Envelope::Direct.ok(json!(1)), json!(1));
        let r = Envelope::Http
            .fail(404, diag("NotFound", "x"), Some(json!({"k": 2})))
            .unwrap();
        assert_eq!(r["statusCode"], 404);
        let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
        assert_eq!(body, json!({"error": "x", "type": "NotFound", "k": 2}));
        assert_eq!(
            Envelope::Direct
                .fail(500, diag("E", "m"), None)
                .unwrap_err()
                .error_type,
            "E"
        );
    }
}
