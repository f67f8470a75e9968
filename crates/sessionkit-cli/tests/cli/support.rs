//! Running the real binary: a temporary working directory, a clean environment, a server that
//! is always killed, and a minimal HTTP/1.1 client with a one-cookie jar.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// How long a server may take to start listening, to answer, or to stop after SIGTERM;
/// generous, since a login hashes a Django-strength password on a possibly busy machine.
const PATIENCE: Duration = Duration::from_secs(30);

/// A fresh directory under the system temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "sessionkit-cli-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        // A leftover from a crashed run with a recycled pid must not leak into this one.
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create the test directory");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// `sessionkit` in `dir`, with no session settings or secret inherited from the environment.
pub fn sessionkit(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sessionkit"));
    command.current_dir(dir);
    for (name, _) in std::env::vars_os() {
        let inherited_setting = name
            .to_str()
            .is_some_and(|name| name.starts_with("SESSION") || name.starts_with("SECRET_KEY"));
        if inherited_setting {
            command.env_remove(name);
        }
    }
    command
}

/// What a finished command printed and how it exited.
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

pub trait Run {
    /// Runs to completion with nothing on standard input.
    fn run(&mut self) -> Outcome {
        self.run_with_input("")
    }

    /// Runs to completion with `input` on standard input.
    fn run_with_input(&mut self, input: &str) -> Outcome;
}

impl Run for Command {
    fn run_with_input(&mut self, input: &str) -> Outcome {
        let mut child = self
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sessionkit");
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        let output = child.wait_with_output().expect("wait for sessionkit");
        Outcome {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
            stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
        }
    }
}

/// A running `sessionkit serve`, killed when dropped so a failing test leaves no process behind.
pub struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Server {
    /// Starts `sessionkit serve --bench-routes` in `dir` on a free port, with `env` added to a
    /// clean environment, and waits until it accepts connections.
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::start_with(dir, env, &["--bench-routes"])
    }

    /// Like [`Server::start`], with `flags` for `serve` instead of `--bench-routes`.
    pub fn start_with(dir: &Path, env: &[(&str, &str)], flags: &[&str]) -> Self {
        let port = free_port();
        let child = sessionkit(dir)
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .args(flags)
            .envs(env.iter().copied())
            .stdout(append_to(&dir.join("stdout.log")))
            .stderr(append_to(&dir.join("stderr.log")))
            .spawn()
            .expect("start sessionkit serve");
        let mut server = Server {
            child,
            port,
            dir: dir.to_owned(),
        };
        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = server.child.try_wait().expect("poll the server") {
                panic!("the server exited with {status}:\n{}", server.logs());
            }
            assert!(
                Instant::now() < deadline,
                "the server did not listen within {PATIENCE:?}:\n{}",
                server.logs()
            );
            sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Everything the server (and earlier servers in the same directory) printed.
    pub fn logs(&self) -> String {
        ["stdout.log", "stderr.log"]
            .map(|name| fs::read_to_string(self.dir.join(name)).unwrap_or_default())
            .join("")
    }

    /// Sends SIGTERM, as `docker stop` or systemd would, and waits for the server to exit.
    pub fn terminate(mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the server") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server ignored SIGTERM:\n{}",
                self.logs()
            );
            sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn append_to(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open a server log")
}

/// A port nothing listens on right now (the OS picks it; the listener is closed at once).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// An HTTP response, headers with lower-case names.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A browser stand-in with a jar for the `sessionid` and `csrftoken` cookies. Clone it to keep
/// a copy of the cookies as they are now (to replay them later).
#[derive(Clone, Default)]
pub struct Browser {
    /// The session cookie's value.
    pub cookie: Option<String>,
    /// The CSRF cookie's value (the secret the forms' tokens are made from).
    pub csrf_cookie: Option<String>,
}

impl Browser {
    pub fn get(&mut self, server: &Server, path: &str) -> Response {
        self.send(server, "GET", path, "", None)
    }

    /// POSTs `form` (already URL-encoded) as `application/x-www-form-urlencoded`.
    pub fn post(&mut self, server: &Server, path: &str, form: &str) -> Response {
        self.send(server, "POST", path, form, None)
    }

    /// Like [`Browser::post`], from a page of `origin` (the `Origin` header browsers send).
    pub fn post_from(&mut self, server: &Server, origin: &str, path: &str, form: &str) -> Response {
        self.send(server, "POST", path, form, Some(origin))
    }

    fn send(
        &mut self,
        server: &Server,
        method: &str,
        path: &str,
        body: &str,
        origin: Option<&str>,
    ) -> Response {
        let mut stream = TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
        stream
            .set_read_timeout(Some(PATIENCE))
            .expect("set timeout");
        let mut request =
            format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        let cookies: Vec<String> = [
            ("sessionid", &self.cookie),
            ("csrftoken", &self.csrf_cookie),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some(format!("{name}={}", value.as_ref()?)))
        .collect();
        if !cookies.is_empty() {
            request.push_str(&format!("Cookie: {}\r\n", cookies.join("; ")));
        }
        if let Some(origin) = origin {
            request.push_str(&format!("Origin: {origin}\r\n"));
        }
        if method == "POST" {
            request.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream.write_all(request.as_bytes()).expect("send request");
        let mut raw = String::new();
        stream.read_to_string(&mut raw).expect("read response");
        let response = parse_response(&raw);
        self.store_cookies(&response);
        response
    }

    /// Keeps the `sessionid` and `csrftoken` of each Set-Cookie, or forgets one when the
    /// server deletes it.
    fn store_cookies(&mut self, response: &Response) {
        for (_, set_cookie) in response.headers.iter().filter(|(n, _)| n == "set-cookie") {
            let mut parts = set_cookie.split(';').map(str::trim);
            let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let jar = match name {
                "sessionid" => &mut self.cookie,
                "csrftoken" => &mut self.csrf_cookie,
                _ => continue,
            };
            let expired = parts.any(|attribute| attribute.eq_ignore_ascii_case("max-age=0"));
            *jar = (!value.is_empty() && !expired).then(|| value.to_owned());
        }
    }
}

/// The secret `sessionkit serve` generates in its working directory when none is set.
pub const SECRET_FILE: &str = "sessionkit-secret.key";

/// The CSRF token of the first form in `html` (each form has its own, all of one secret).
pub fn csrf_token(html: &str) -> String {
    const FIELD: &str = "name=\"csrfmiddlewaretoken\" value=\"";
    let start = html.find(FIELD).expect("a form with a CSRF token") + FIELD.len();
    let length = html[start..].find('"').expect("the end of the token");
    html[start..start + length].to_owned()
}

fn parse_response(raw: &str) -> Response {
    let (head, body) = raw.split_once("\r\n\r\n").expect("a complete response");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Response {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// Opens `/login` for its form, then submits the credentials with the form's token.
pub fn log_in(browser: &mut Browser, server: &Server, username: &str, password: &str) -> Response {
    let token = csrf_token(&browser.get(server, "/login").body);
    browser.post(
        server,
        "/login",
        &format!("username={username}&password={password}&csrfmiddlewaretoken={token}"),
    )
}

/// Whether the store page shows `name` as the logged-in user.
pub fn is_logged_in_as(page: &Response, name: &str) -> bool {
    page.body
        .contains(&format!("<strong id=\"who\">{name}</strong>"))
}

/// Asserts that `response` is a redirect (303, as the store answers a form) to `to`.
pub fn assert_redirects(response: &Response, to: &str) {
    assert_eq!(response.status, 303, "{}", response.body);
    assert_eq!(response.header("location"), Some(to));
}

/// Submits `form` to `path` with the token of the forms on `/`.
pub fn submit(browser: &mut Browser, server: &Server, path: &str, form: &str) -> Response {
    let token = csrf_token(&browser.get(server, "/").body);
    browser.post(server, path, &format!("{form}&csrfmiddlewaretoken={token}"))
}
