//! The browsable index: one static HTML page (no external assets) listing every bundle with its
//! kernel, distribution, size, sha256, features, compiler, verification and age. The table is
//! rendered in full, so it works without JavaScript; a small inline script filters rows as the
//! reader types a kernel or distribution into the search box (`?q=` pre-fills it). The JSON
//! (`index.json`, id → entry) sits next to it for machines.

use std::collections::BTreeMap;

use super::{IndexEntry, Verification};

/// Escapes text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `13.2 MiB`-style size.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `3 d`-style age of `then` at `now` (Unix seconds); `—` when unknown.
fn age(then: Option<u64>, now: u64) -> String {
    let Some(then) = then else {
        return "—".into();
    };
    let s = now.saturating_sub(then);
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.4em}table{border-collapse:collapse;width:100%}\
th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}\
th{background:#f4f4f4;position:sticky;top:0}td.sha{font-family:monospace;font-size:.8em;word-break:break-all}\
input{font-size:1em;padding:.3em;width:24em}.ok{color:#070}.no{color:#a00}.un{color:#875}";

const SCRIPT: &str = r#"(function(){
var q=document.getElementById('q'),rows=[].slice.call(document.querySelectorAll('#bundles tbody tr')),
n=document.getElementById('shown');
function f(){var t=q.value.trim().toLowerCase().split(/\s+/).filter(Boolean),c=0;
rows.forEach(function(r){var s=r.getAttribute('data-search'),m=t.every(function(w){return s.indexOf(w)>=0;});
r.hidden=!m;if(m)c++;});n.textContent=c;}
q.addEventListener('input',f);var p=new URLSearchParams(location.search).get('q');if(p){q.value=p;}f();})();"#;

/// Renders the page for `entries` at time `now` (Unix seconds), rows sorted by distribution then
/// kernel.
pub fn render(entries: &BTreeMap<String, IndexEntry>, now: u64) -> String {
    let mut rows: Vec<&IndexEntry> = entries.values().collect();
    rows.sort_by(|a, b| (&a.distro, &a.kernel, &a.id).cmp(&(&b.distro, &b.kernel, &b.id)));
    let mut html = String::new();
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n");
    html.push_str("<title>kernel-packer bundles</title>\n<style>");
    html.push_str(STYLE);
    html.push_str("</style></head><body>\n<h1>kernel-packer bundles</h1>\n");
    html.push_str(&format!(
        "<p><label>Search kernel or distribution: <input id=\"q\" type=\"search\" \
         placeholder=\"e.g. 6.1.0-21-amd64 or debian\" autocomplete=\"off\"></label> \
         <span id=\"shown\">{n}</span> of {n} bundles. \
         Machine-readable: <a href=\"index.json\">index.json</a>, \
         <a href=\"SHA256SUMS\">SHA256SUMS</a> (<a href=\"SHA256SUMS.minisig\">signature</a>).</p>\n",
        n = rows.len()
    ));
    html.push_str(
        "<table id=\"bundles\"><thead><tr><th>Kernel</th><th>Distribution</th><th>Bundle</th>\
         <th>Size</th><th>sha256</th><th>Features</th><th>Compiler</th><th>Verification</th>\
         <th>Age</th></tr></thead><tbody>\n",
    );
    for e in rows {
        let mut features = Vec::new();
        if e.features.btf {
            features.push("BTF");
        }
        if e.features.bpf_ringbuf {
            features.push("ring buffer");
        }
        let (compiler, verification) = match &e.verification {
            Some(Verification::Verified {
                module,
                ebpf,
                compiler,
            }) => {
                let what = match (module, ebpf) {
                    (true, true) => "module + eBPF",
                    (true, false) => "module",
                    _ => "eBPF",
                };
                (
                    compiler.clone(),
                    format!("<span class=\"ok\">verified: {what}</span>"),
                )
            }
            Some(Verification::Unverified { reason }) => (
                String::new(),
                format!("<span class=\"un\">unverified: {}</span>", esc(reason)),
            ),
            None => (
                String::new(),
                "<span class=\"no\">not verified</span>".into(),
            ),
        };
        let search = format!("{} {} {} {}", e.kernel, e.distro, e.kind, e.bundle).to_lowercase();
        html.push_str(&format!(
            "<tr data-search=\"{search}\" data-kernel=\"{kernel}\"><td>{kernel}</td><td>{distro} ({kind})</td>\
             <td><a href=\"{bundle}\">{bundle}</a></td><td>{size}</td><td class=\"sha\">{sha}</td>\
             <td>{features}</td><td>{compiler}</td><td>{verification}</td><td>{age}</td></tr>\n",
            search = esc(&search),
            kernel = esc(&e.kernel),
            distro = esc(&e.distro),
            kind = esc(&e.kind),
            bundle = esc(&e.bundle),
            size = human_size(e.size),
            sha = esc(&e.sha256),
            features = features.join(", "),
            compiler = esc(&compiler),
            age = age(e.packed_at, now),
        ));
    }
    html.push_str("</tbody></table>\n<script>");
    html.push_str(SCRIPT);
    html.push_str("</script>\n</body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Features;

    #[test]
    fn rows_are_escaped_and_complete() {
        let e = IndexEntry {
            id: "a".repeat(64),
            kind: "debian".into(),
            packages: vec![],
            bundle: "bundle-6.1.0-21-amd64.tgz".into(),
            sha256: "ab".repeat(32),
            size: 13 << 20,
            kernel: "6.1.0-21-amd64".into(),
            distro: "<debian>".into(),
            arch: "amd64".into(),
            features: Features {
                btf: true,
                bpf_ringbuf: true,
            },
            verification: Some(Verification::Verified {
                module: true,
                ebpf: true,
                compiler: "gcc-12".into(),
            }),
            packed_at: Some(1_000),
            ..Default::default()
        };
        let html = render(&BTreeMap::from([(e.id.clone(), e)]), 1_000 + 3 * 86_400);
        assert!(html.contains("&lt;debian&gt;"));
        assert!(!html.contains("<debian>"));
        assert!(html.contains("13.0 MiB"));
        assert!(html.contains("BTF, ring buffer"));
        assert!(html.contains("verified: module + eBPF"));
        assert!(html.contains("<td>3 d</td>"));
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "no external assets"
        );
    }
}
