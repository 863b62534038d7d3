//! A small emulation of the GitHub Actions runner for composite actions, for end-to-end tests.
//!
//! [`run_composite`] reads an `action.yml`, and for each step:
//! - evaluates `if:` (only `<expr> == ''` / `<expr> != ''` and plain expressions are supported);
//! - skips `uses:` steps (JavaScript actions such as actions/cache cannot run here), recording them;
//! - for `run:` steps, evaluates `env:` values (`${{ inputs.NAME }}`, `${{ steps.ID.outputs.NAME }}`,
//!   `${{ runner.temp }}`, `${{ runner.os }}`, `${{ runner.arch }}`), writes the script to a file and
//!   runs it like the runner does (`bash --noprofile --norc -eo pipefail <file>`) with a fresh
//!   `GITHUB_OUTPUT` file and a fresh `GITHUB_STEP_SUMMARY` file, then parses the step's outputs
//!   (`name=value` and `name<<DELIMITER` forms) and appends its summary to the job summary;
//! - stops at the first failing step, like a composite action without `continue-on-error`.
//!
//! An expression the emulator does not know makes it panic, so a test fails instead of silently
//! running with an empty value. `${{ }}` inside `run:` is refused the same way: the action's
//! inputs must reach scripts through `env:`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_norway::Value;

/// The emulated runner environment.
pub struct Runner {
    /// `GITHUB_WORKSPACE`, also the steps' working directory.
    pub workspace: PathBuf,
    /// `RUNNER_TEMP`.
    pub temp: PathBuf,
    /// `RUNNER_OS` (`Linux`).
    pub os: String,
    /// `RUNNER_ARCH` (`X64`).
    pub arch: String,
    /// Extra environment for every step (e.g. job-level `env:`).
    pub env: BTreeMap<String, String>,
}

/// What one step did.
#[derive(Debug)]
pub struct StepResult {
    pub id: Option<String>,
    pub name: String,
    /// `None` when the step was skipped by its `if:` or is a `uses:` step.
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub outputs: BTreeMap<String, String>,
    /// `uses:` of a skipped action step.
    pub uses: Option<String>,
}

/// What the whole composite action did.
#[derive(Debug)]
pub struct ActionResult {
    pub steps: Vec<StepResult>,
    /// True when every executed step exited 0.
    pub success: bool,
    /// The action's outputs (its `outputs.*.value` expressions, evaluated).
    pub outputs: BTreeMap<String, String>,
    /// The job summary (the concatenated `GITHUB_STEP_SUMMARY` files).
    pub summary: String,
}

impl ActionResult {
    /// Concatenated stdout of every executed step (workflow commands such as `::error::` go there).
    pub fn stdout(&self) -> String {
        self.steps.iter().map(|s| s.stdout.as_str()).collect()
    }

    /// Concatenated stderr of every executed step.
    pub fn stderr(&self) -> String {
        self.steps.iter().map(|s| s.stderr.as_str()).collect()
    }

    /// The step with this id.
    pub fn step(&self, id: &str) -> &StepResult {
        self.steps
            .iter()
            .find(|s| s.id.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("no step with id {id}"))
    }
}

/// Parses a `GITHUB_OUTPUT` file: `name=value` lines and `name<<DELIM` … `DELIM` blocks.
pub fn parse_output_file(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        if let Some((name, delim)) = line.split_once("<<") {
            let mut value = Vec::new();
            loop {
                let l = lines
                    .next()
                    .unwrap_or_else(|| panic!("GITHUB_OUTPUT: unterminated {name}<<{delim}"));
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.insert(name.to_string(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            out.insert(name.to_string(), value.to_string());
        } else {
            panic!("GITHUB_OUTPUT: malformed line {line:?}");
        }
    }
    out
}

struct Context<'a> {
    inputs: &'a BTreeMap<String, String>,
    steps: &'a BTreeMap<String, BTreeMap<String, String>>,
    runner: &'a Runner,
}

impl Context<'_> {
    /// Value of one expression body (`inputs.x`, `steps.a.outputs.b`, `runner.temp`, `'literal'`).
    fn value(&self, expr: &str) -> String {
        let expr = expr.trim();
        if let Some(lit) = expr.strip_prefix('\'').and_then(|e| e.strip_suffix('\'')) {
            return lit.replace("''", "'");
        }
        if let Some(name) = expr.strip_prefix("inputs.") {
            return self
                .inputs
                .get(name)
                .unwrap_or_else(|| panic!("action.yml uses undeclared input {name}"))
                .clone();
        }
        if let Some(rest) = expr.strip_prefix("steps.") {
            let (id, rest) = rest.split_once('.').expect("steps.<id>.outputs.<name>");
            let name = rest
                .strip_prefix("outputs.")
                .unwrap_or_else(|| panic!("unsupported expression {expr}"));
            return self
                .steps
                .get(id)
                .and_then(|o| o.get(name))
                .cloned()
                .unwrap_or_default();
        }
        match expr {
            "runner.temp" => self.runner.temp.display().to_string(),
            "runner.os" => self.runner.os.clone(),
            "runner.arch" => self.runner.arch.clone(),
            _ => panic!("the runner emulation does not support the expression `{expr}`"),
        }
    }

    /// Substitutes every `${{ … }}` of a string.
    fn interpolate(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find("}}")
                .unwrap_or_else(|| panic!("unterminated expression in {text:?}"))
                + start;
            out.push_str(&self.value(&rest[start + 3..end]));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    /// Evaluates an `if:` condition.
    fn condition(&self, cond: &str) -> bool {
        let cond = cond.trim();
        let cond = cond
            .strip_prefix("${{")
            .and_then(|c| c.strip_suffix("}}"))
            .unwrap_or(cond)
            .trim();
        if let Some((l, r)) = cond.split_once("!=") {
            return self.value(l) != self.value(r);
        }
        if let Some((l, r)) = cond.split_once("==") {
            return self.value(l) == self.value(r);
        }
        !self.value(cond).is_empty()
    }
}

fn as_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// Runs the composite action at `action_dir/action.yml` with `with` as its inputs.
pub fn run_composite(
    runner: &Runner,
    action_dir: &Path,
    with: &BTreeMap<String, String>,
) -> ActionResult {
    let path = action_dir.join("action.yml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let action: Value =
        serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));

    // Inputs: declared ones get their default unless given; unknown inputs are an error.
    let mut inputs = BTreeMap::new();
    let declared = action["inputs"]
        .as_mapping()
        .expect("action.yml has inputs");
    for (name, spec) in declared {
        let name = as_str(name).unwrap();
        let default = spec.get("default").and_then(as_str).unwrap_or_default();
        let required = spec
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let value = with.get(&name).cloned().unwrap_or(default);
        assert!(
            !(required && value.is_empty()),
            "required input {name} not given"
        );
        inputs.insert(name, value);
    }
    for name in with.keys() {
        assert!(inputs.contains_key(name), "action.yml has no input {name}");
    }

    assert_eq!(action["runs"]["using"].as_str(), Some("composite"));
    let steps = action["runs"]["steps"].as_sequence().expect("runs.steps");
    let mut step_outputs: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut results = Vec::new();
    let mut summary = String::new();
    let mut success = true;
    for (index, step) in steps.iter().enumerate() {
        let id = step.get("id").and_then(as_str);
        let name = step
            .get("name")
            .and_then(as_str)
            .unwrap_or_else(|| format!("step {index}"));
        let ctx = Context {
            inputs: &inputs,
            steps: &step_outputs,
            runner,
        };
        let runs = step
            .get("if")
            .and_then(as_str)
            .is_none_or(|c| ctx.condition(&c));
        let skipped = |uses: Option<String>| StepResult {
            id: id.clone(),
            name: name.clone(),
            exit_code: None,
            stdout: String::new(),
            stderr: String::new(),
            outputs: BTreeMap::new(),
            uses,
        };
        if !runs {
            results.push(skipped(step.get("uses").and_then(as_str)));
            continue;
        }
        if let Some(uses) = step.get("uses").and_then(as_str) {
            results.push(skipped(Some(uses)));
            continue;
        }
        let script = step
            .get("run")
            .and_then(as_str)
            .expect("step has run or uses");
        assert!(
            !script.contains("${{"),
            "step {name:?}: `${{{{ }}}}` inside run: (inputs must reach scripts through env:)"
        );
        assert_eq!(step.get("shell").and_then(as_str).as_deref(), Some("bash"));

        let step_dir = runner.temp.join(format!("_step{index}"));
        std::fs::create_dir_all(&step_dir).unwrap();
        let script_path = step_dir.join("script.sh");
        let output_path = step_dir.join("output");
        let summary_path = step_dir.join("summary");
        std::fs::write(&script_path, script).unwrap();
        std::fs::write(&output_path, "").unwrap();
        std::fs::write(&summary_path, "").unwrap();

        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script_path)
            .current_dir(&runner.workspace);
        for (k, _) in std::env::vars() {
            if k.starts_with("GITHUB_") || k.starts_with("RUNNER_") || k.starts_with("KP_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("GITHUB_ACTIONS", "true")
            .env("CI", "true")
            .env("GITHUB_WORKSPACE", &runner.workspace)
            .env("GITHUB_ACTION_PATH", action_dir)
            .env("GITHUB_OUTPUT", &output_path)
            .env("GITHUB_STEP_SUMMARY", &summary_path)
            .env("RUNNER_TEMP", &runner.temp)
            .env("RUNNER_OS", &runner.os)
            .env("RUNNER_ARCH", &runner.arch);
        for (k, v) in &runner.env {
            cmd.env(k, v);
        }
        if let Some(env) = step.get("env").and_then(Value::as_mapping) {
            for (k, v) in env {
                let k = as_str(k).unwrap();
                let v = as_str(v).unwrap_or_else(|| panic!("env {k} is not a scalar"));
                cmd.env(k, ctx.interpolate(&v));
            }
        }
        let out = cmd.output().expect("run bash");
        let outputs = parse_output_file(&std::fs::read_to_string(&output_path).unwrap());
        summary.push_str(&std::fs::read_to_string(&summary_path).unwrap());
        if let Some(id) = &id {
            step_outputs.insert(id.clone(), outputs.clone());
        }
        let code = out.status.code().unwrap_or(-1);
        results.push(StepResult {
            id: id.clone(),
            name: name.clone(),
            exit_code: Some(code),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            outputs,
            uses: None,
        });
        if code != 0 {
            success = false;
            break;
        }
    }

    let ctx = Context {
        inputs: &inputs,
        steps: &step_outputs,
        runner,
    };
    let mut outputs = BTreeMap::new();
    if let Some(declared) = action.get("outputs").and_then(Value::as_mapping) {
        for (name, spec) in declared {
            let value = spec.get("value").and_then(as_str).unwrap_or_default();
            outputs.insert(as_str(name).unwrap(), ctx.interpolate(&value));
        }
    }
    ActionResult {
        steps: results,
        success,
        outputs,
        summary,
    }
}
