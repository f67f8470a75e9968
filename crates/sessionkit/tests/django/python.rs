//! Runs the Python programs in `tests/django/py/` with the Django of `target/django-venv`.
//!
//! A program gets its mode as its one argument and a JSON request on stdin (the secrets plus
//! whatever the mode needs), and prints one JSON value. A missing venv fails the test with the
//! command that makes it: these tests are never skipped.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

/// The Python of the venv `scripts/django-venv` makes at the workspace root.
fn python() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/sessionkit is two levels below the workspace root");
    let python = workspace.join("target/django-venv/bin/python");
    assert!(
        python.exists(),
        "Django is not installed at {}: run scripts/django-venv (scripts/test does it)",
        python.display()
    );
    python
}

fn program(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/django/py/{name}.py"))
}

/// Django configured with one `SECRET_KEY` and its `SECRET_KEY_FALLBACKS`.
#[derive(Debug, Clone)]
pub struct Django {
    secret_key: String,
    fallbacks: Vec<String>,
}

impl Django {
    pub fn new(secret_key: &str) -> Django {
        Django {
            secret_key: secret_key.to_owned(),
            fallbacks: Vec::new(),
        }
    }

    pub fn with_fallbacks(secret_key: &str, fallbacks: &[&str]) -> Django {
        Django {
            secret_key: secret_key.to_owned(),
            fallbacks: fallbacks.iter().map(|f| (*f).to_owned()).collect(),
        }
    }

    /// Runs `py/{program}.py {mode}` with `request` (a JSON object) plus the secrets on stdin,
    /// and returns what it printed. Panics with Python's stderr if it fails.
    pub fn run(&self, program_name: &str, mode: &str, request: Value) -> Value {
        let mut request = request;
        let fields = request.as_object_mut().expect("a request is a JSON object");
        fields.insert("secret_key".to_owned(), json!(self.secret_key));
        fields.insert("secret_key_fallbacks".to_owned(), json!(self.fallbacks));

        let script = program(program_name);
        let mut child = Command::new(python())
            .arg(&script)
            .arg(mode)
            .current_dir(script.parent().expect("the py/ folder"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start Python for {}: {e}", script.display()));
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(request.to_string().as_bytes())
            .expect("send the request to Python");
        let output = child.wait_with_output().expect("wait for Python");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{program_name}.py {mode} failed ({}):\n{stderr}",
            output.status
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "{program_name}.py {mode} printed no JSON ({e}):\n{}\n{stderr}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }
}

/// `value[name]` as a string.
pub fn text<'a>(value: &'a Value, name: &str) -> &'a str {
    value[name]
        .as_str()
        .unwrap_or_else(|| panic!("no string {name} in {value}"))
}

/// The JSON text Django read in a `{"json": …}` / `{"error": …}` answer; panics with the error.
pub fn loaded_json<'a>(answer: &'a Value, what: &str) -> &'a str {
    match answer.get("error") {
        Some(error) => panic!("{what}: Django refused it: {error}"),
        None => text(answer, "json"),
    }
}
