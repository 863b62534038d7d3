//! Lints of the infrastructure and GitHub Actions files, run by `cargo test`:
//! - `cfn-lint` on `infra/template.yaml`: clean; the AWS SAM translator (as `sam deploy` runs it)
//!   accepts the template, and `cfn-lint` and `checkov` are clean on the CloudFormation it expands to;
//! - `checkov` on `infra/` (template and pack image Dockerfile): no failed check, and every skipped
//!   check carries a justification inline;
//! - `zizmor` (offline) on `.github/workflows/` and `action/action.yml`: no findings (ignores are
//!   inline with their reason);
//! - `action-validator` on `action/action.yml` and every workflow: valid;
//! - the project's own rules: no `${{ }}` inside `run:`, every `uses:` pinned to a full commit SHA,
//!   minimal `permissions:`, and the state machine definition consistent with its substitutions.
//!
//! The tools come from `scripts/setup.d/30-lint.sh`, which links them into `/usr/local/bin`
//! (override with `KP_LINT_BIN`). A missing tool fails the test.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_norway::Value;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn repo(path: &str) -> PathBuf {
    Path::new(REPO).join(path)
}

/// Path of a lint tool installed by scripts/setup.d/30-lint.sh; panics when missing.
fn tool(name: &str) -> PathBuf {
    let dir = std::env::var_os("KP_LINT_BIN").unwrap_or_else(|| "/usr/local/bin".into());
    let path = Path::new(&dir).join(name);
    assert!(
        path.exists(),
        "{} not found: run scripts/setup.d/30-lint.sh (or set KP_LINT_BIN)",
        path.display()
    );
    path
}

fn run(cmd: &mut Command) -> Output {
    cmd.current_dir(REPO)
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn workflows() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo(".github/workflows"))
        .expect(".github/workflows")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "expected the CI, release and example workflows"
    );
    files
}

fn yaml(path: &Path) -> Value {
    let s = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::from_str(&s).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn cfn_lint_is_clean() {
    let out = run(Command::new(tool("cfn-lint")).arg("infra/template.yaml"));
    assert!(out.status.success(), "cfn-lint findings:\n{}", text(&out));
}

/// Expands the SAM template with the real translator; returns the CloudFormation JSON.
fn sam_transformed(dir: &Path) -> (PathBuf, serde_json::Value) {
    let out_path = dir.join("template.json");
    let out = run(Command::new(tool("kp-sam-python"))
        .arg(repo("tests/support/sam_transform.py"))
        .arg(repo("infra/template.yaml"))
        .arg(&out_path));
    assert!(
        out.status.success(),
        "SAM translator rejects the template:\n{}",
        text(&out)
    );
    let json = serde_json::from_str(&std::fs::read_to_string(&out_path).unwrap()).unwrap();
    (out_path, json)
}

#[test]
fn sam_expansion_is_valid_cloudformation_with_the_expected_resources() {
    let tmp = tempfile::tempdir().unwrap();
    let (path, cfn) = sam_transformed(tmp.path());
    let out = run(Command::new(tool("cfn-lint")).arg(&path));
    assert!(
        out.status.success(),
        "cfn-lint on the expanded template:\n{}",
        text(&out)
    );
    // checkov on the expanded template sees the roles, schedules and URL SAM generates.
    let out = run(Command::new(tool("checkov"))
        .args(["--compact", "--quiet", "--skip-download", "-f"])
        .arg(&path)
        .env("BC_SKIP_MAPPING", "TRUE"));
    assert!(
        out.status.success(),
        "checkov on the expanded template:\n{}",
        text(&out)
    );

    let resources = cfn["Resources"].as_object().unwrap();
    let of_type = |t: &str| -> Vec<(&String, &serde_json::Value)> {
        resources.iter().filter(|(_, r)| r["Type"] == t).collect()
    };
    // One EventBridge Scheduler schedule per crawl source group, each with a group input.
    let crawl_groups: BTreeSet<String> = of_type("AWS::Scheduler::Schedule")
        .iter()
        .filter(|(name, _)| name.starts_with("CrawlFunction"))
        .map(|(_, r)| {
            let input: serde_json::Value =
                serde_json::from_str(r["Properties"]["Target"]["Input"].as_str().unwrap()).unwrap();
            input["group"].as_str().unwrap().to_string()
        })
        .collect();
    // ... and exactly the groups of crawl-groups.yml: a schedule naming a missing group fails
    // every hour, a group without a schedule is never crawled.
    let groups_yml: serde_json::Value = serde_norway::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("kernel-package-lists/crawl-groups.yml"),
        )
        .unwrap(),
    )
    .unwrap();
    let configured: BTreeSet<String> = groups_yml["groups"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(crawl_groups, configured, "schedules vs crawl-groups.yml");
    // The pack Function URL uses IAM auth; the webhook's (GitHub cannot sign SigV4) authenticates
    // each request by its HMAC in the function.
    let urls = of_type("AWS::Lambda::Url");
    assert_eq!(urls.len(), 2);
    for (name, url) in &urls {
        let expected = if name.starts_with("TriggerFunction") {
            "NONE"
        } else {
            "AWS_IAM"
        };
        assert_eq!(url["Properties"]["AuthType"], expected, "{name}");
    }
    // A pack request object in the bundle bucket starts the state machine (merge trigger).
    let rules = of_type("AWS::Events::Rule");
    assert!(
        rules.iter().any(
            |(_, r)| r["Properties"]["EventPattern"]["detail"]["object"]["key"][0]["prefix"]
                == "bundles/requests/"
        ),
        "{rules:?}"
    );
    // Zip functions run on provided.al2023; the image function has no runtime.
    for (name, f) in of_type("AWS::Lambda::Function") {
        let p = &f["Properties"];
        if p["PackageType"] == "Image" {
            assert!(p["Runtime"].is_null(), "{name}");
        } else {
            assert_eq!(p["Runtime"], "provided.al2023", "{name}");
        }
        assert!(
            p["DeadLetterConfig"]["TargetArn"].is_object(),
            "{name} has no DLQ"
        );
        assert!(
            p["KmsKeyArn"].is_object(),
            "{name}: environment not encrypted with the data key"
        );
    }
    // Every function role: no Allow statement on "*" except what AWS requires (none for functions).
    for (name, role) in of_type("AWS::IAM::Role") {
        if !name.ends_with("FunctionRole") {
            continue;
        }
        for policy in role["Properties"]["Policies"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            for st in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                assert_ne!(st["Resource"], "*", "{name}: {st}");
            }
        }
    }
    // Buckets: versioned, encrypted, public access blocked.
    for (name, b) in of_type("AWS::S3::Bucket") {
        let p = &b["Properties"];
        assert_eq!(p["VersioningConfiguration"]["Status"], "Enabled", "{name}");
        assert!(p["BucketEncryption"].is_object(), "{name}");
        let block = &p["PublicAccessBlockConfiguration"];
        for k in [
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        ] {
            assert_eq!(block[k], true, "{name}: {k}");
        }
        assert!(
            p["LifecycleConfiguration"]["Rules"]
                .as_array()
                .is_some_and(|r| !r.is_empty()),
            "{name}"
        );
    }
    assert_eq!(of_type("AWS::SecretsManager::Secret").len(), 3);
    assert_eq!(of_type("AWS::StepFunctions::StateMachine").len(), 1);
}

#[test]
fn checkov_is_clean_and_every_skip_is_justified() {
    let out = run(Command::new(tool("checkov"))
        .args(["-d", "infra", "--compact", "--skip-download", "-o", "json"])
        .env("BC_SKIP_MAPPING", "TRUE")
        .env("CHECKOV_RUN_SCA_PACKAGE_SCAN_V2", "false"));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("checkov output is not JSON ({e}):\n{}", text(&out)));
    let reports = match report {
        serde_json::Value::Array(a) => a,
        one => vec![one],
    };
    let mut kinds = BTreeSet::new();
    for r in &reports {
        kinds.insert(r["check_type"].as_str().unwrap_or("?").to_string());
        let results = &r["results"];
        let failed = results["failed_checks"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            failed.is_empty(),
            "checkov failed checks: {}",
            failed
                .iter()
                .map(|c| format!("{} {} ({})", c["check_id"], c["resource"], c["file_path"]))
                .collect::<Vec<_>>()
                .join("\n")
        );
        for skipped in results["skipped_checks"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let why = skipped["check_result"]["suppress_comment"]
                .as_str()
                .unwrap_or("");
            assert!(
                why.trim().len() >= 20,
                "skipped check {} on {} has no real justification: {why:?}",
                skipped["check_id"],
                skipped["resource"]
            );
        }
    }
    assert!(
        kinds.contains("cloudformation"),
        "checkov scanned {kinds:?}"
    );
    assert!(kinds.contains("dockerfile"), "checkov scanned {kinds:?}");
    assert!(out.status.success(), "checkov failed:\n{}", text(&out));
}

#[test]
fn zizmor_has_no_findings() {
    let mut cmd = Command::new(tool("zizmor"));
    cmd.args(["--offline", "--format", "json"])
        .arg(".github/workflows")
        .arg("action/action.yml");
    let out = run(&mut cmd);
    let findings: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("zizmor output is not JSON ({e}):\n{}", text(&out)));
    let findings = findings.as_array().expect("zizmor JSON is a list");
    assert!(findings.is_empty(), "zizmor findings:\n{}", text(&out));
    assert!(out.status.success(), "zizmor failed:\n{}", text(&out));
}

#[test]
fn action_validator_accepts_action_and_workflows() {
    let mut files = vec![repo("action/action.yml")];
    files.extend(workflows());
    for f in files {
        let out = run(Command::new(tool("action-validator")).arg(&f));
        assert!(
            out.status.success(),
            "{} is invalid:\n{}",
            f.display(),
            text(&out)
        );
    }
}

/// Every `run:` and `uses:` of a steps list, with where they are.
fn steps_of(doc: &Value, origin: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    if let Some(steps) = doc["runs"]["steps"].as_sequence() {
        for (i, s) in steps.iter().enumerate() {
            out.push((format!("{origin} runs.steps[{i}]"), s.clone()));
        }
    }
    if let Some(jobs) = doc["jobs"].as_mapping() {
        for (job, spec) in jobs {
            for (i, s) in spec["steps"]
                .as_sequence()
                .cloned()
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                out.push((
                    format!("{origin} jobs.{}.steps[{i}]", job.as_str().unwrap()),
                    s.clone(),
                ));
            }
        }
    }
    out
}

#[test]
fn inputs_reach_scripts_through_env_and_actions_are_pinned() {
    let mut files = vec![repo("action/action.yml")];
    files.extend(workflows());
    let mut uses_seen = 0;
    for f in &files {
        let doc = yaml(f);
        let steps = steps_of(&doc, &f.display().to_string());
        assert!(!steps.is_empty(), "{} has no steps", f.display());
        for (at, step) in steps {
            if let Some(run) = step["run"].as_str() {
                assert!(
                    !run.contains("${{"),
                    "{at}: `${{{{ }}}}` inside run:\n{run}"
                );
            }
            if let Some(uses) = step["uses"].as_str() {
                uses_seen += 1;
                if uses.starts_with("./") {
                    continue;
                }
                let (_, r) = uses
                    .split_once('@')
                    .unwrap_or_else(|| panic!("{at}: {uses} has no ref"));
                assert!(
                    r.len() == 40 && r.chars().all(|c| c.is_ascii_hexdigit()),
                    "{at}: {uses} is not pinned to a full commit SHA"
                );
            }
        }
    }
    assert!(uses_seen > 0);
}

/// Top-level `permissions: {}`; each job asks for `contents: read` only (`contents: write` in the
/// release workflow, which uploads the binaries the action downloads).
#[test]
fn workflows_grant_no_default_permissions() {
    for f in workflows() {
        let doc = yaml(&f);
        let top = &doc["permissions"];
        assert!(
            top.as_mapping().is_some_and(|m| m.is_empty()),
            "{}: top-level permissions must be {{}}",
            f.display()
        );
        for (job, spec) in doc["jobs"].as_mapping().unwrap() {
            let perms = spec["permissions"]
                .as_mapping()
                .unwrap_or_else(|| panic!("{}: job {job:?} sets no permissions", f.display()));
            // Only the release workflow may write, and only contents (release assets).
            let release = f.file_name().is_some_and(|n| n == "release.yml");
            for (scope, level) in perms {
                let ok = scope.as_str() == Some("contents")
                    && (level.as_str() == Some("read")
                        || (release && level.as_str() == Some("write")));
                assert!(
                    ok,
                    "{}: job {job:?} asks for {scope:?}: {level:?}",
                    f.display()
                );
            }
        }
    }
}

/// The `${Name}` placeholders of a text.
fn placeholders(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}').expect("closed placeholder") + start;
        out.insert(rest[start + 2..end].to_string());
        rest = &rest[end + 1..];
    }
    out
}

#[test]
fn state_machine_definition_matches_its_substitutions() {
    let template = yaml(&repo("infra/template.yaml"));
    let sm = &template["Resources"]["PackMissingStateMachine"]["Properties"];
    let uri = sm["DefinitionUri"].as_str().expect("DefinitionUri");
    let asl_text = std::fs::read_to_string(repo("infra").join(uri)).unwrap();
    let asl: serde_json::Value = serde_json::from_str(&asl_text).expect("definition is JSON");
    let keys: BTreeSet<String> = sm["DefinitionSubstitutions"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        placeholders(&asl_text),
        keys,
        "placeholders vs DefinitionSubstitutions"
    );

    let map = &asl["States"]["PackAll"];
    assert_eq!(map["Type"], "Map");
    assert_eq!(
        map["ItemProcessor"]["ProcessorConfig"]["Mode"],
        "DISTRIBUTED"
    );
    assert!(map["MaxConcurrencyPath"].is_string() || map["MaxConcurrency"].is_u64());
    assert!(map["ItemReader"]["Resource"]
        .as_str()
        .unwrap()
        .ends_with(":s3:getObject"));
    // Every Next names a state of its own level.
    fn check_next(states: &serde_json::Value) {
        let names: BTreeSet<&str> = states
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for (name, state) in states.as_object().unwrap() {
            let nexts = vec![state["Next"].as_str(), state["Default"].as_str()];
            for c in state["Choices"].as_array().cloned().unwrap_or_default() {
                let n = c["Next"].as_str().unwrap().to_string();
                assert!(
                    names.contains(n.as_str()),
                    "{name}: choice goes to unknown state {n}"
                );
            }
            for n in nexts.into_iter().flatten() {
                assert!(names.contains(n), "{name}: Next {n} is not a state");
            }
            if let Some(inner) = state["ItemProcessor"]["States"].as_object() {
                check_next(&serde_json::Value::Object(inner.clone()));
            }
        }
    }
    check_next(&asl["States"]);
}

/// The value under a CloudFormation short-form tag (`!Ref X` → `X`).
fn tagged(v: &Value) -> Option<&Value> {
    match v {
        Value::Tagged(t) => Some(&t.value),
        _ => None,
    }
}

#[test]
fn every_function_has_a_dead_letter_queue_and_an_errors_alarm() {
    let template = yaml(&repo("infra/template.yaml"));
    let resources = template["Resources"].as_mapping().unwrap();
    let alarm_targets: Vec<String> = resources
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .filter_map(|r| tagged(&r["Properties"]["Dimensions"][0]["Value"]))
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let mut functions = 0;
    for (name, r) in resources {
        if r["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        functions += 1;
        let name = name.as_str().unwrap();
        let props = &r["Properties"];
        assert!(
            tagged(&props["DeadLetterQueue"]["TargetArn"]).is_some(),
            "{name} has no DLQ"
        );
        assert!(
            alarm_targets.iter().any(|t| t == name),
            "{name} has no errors alarm"
        );
        let zip = props["PackageType"].as_str() != Some("Image");
        if zip {
            assert_eq!(props["Runtime"].as_str(), Some("provided.al2023"), "{name}");
            assert_eq!(
                r["Metadata"]["BuildMethod"].as_str(),
                Some("rust-cargolambda"),
                "{name}"
            );
            let code = props["CodeUri"].as_str().unwrap();
            assert!(
                repo("infra").join(code).is_dir() || code.starts_with("../functions/"),
                "{name}: {code}"
            );
        } else {
            let dockerfile = r["Metadata"]["Dockerfile"].as_str().unwrap();
            assert!(repo(dockerfile).is_file(), "{name}: {dockerfile} missing");
        }
        let policies = props["Policies"].as_sequence().expect("inline policies");
        for st in policies
            .iter()
            .flat_map(|p| p["Statement"].as_sequence().cloned().unwrap_or_default())
        {
            let res = &st["Resource"];
            assert!(
                res.as_str() != Some("*"),
                "{name}: statement {:?} grants on *",
                st["Sid"]
            );
        }
    }
    assert_eq!(functions, 5, "crawl, sync, pack, pack-source, trigger");
}
