//! The load generator's HTTP/1.1 client: one keep-alive connection per simulated user,
//! requests one after another, and a cookie jar.
//!
//! Hand-rolled over tokio's `TcpStream` rather than hyper's client because the load generator
//! shares the machine's cores with the server it measures: every cycle it spends is taken from
//! the server. Per request it does one write, reads into a buffer it reuses, and looks at only
//! the headers it needs (status, length, chunking, `Connection`, `Set-Cookie`).
//!
//! Only loopback targets are accepted ([`Target::parse`]): this tool floods whatever it is
//! pointed at, and on a benchmark machine that must be a server we started ourselves.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Where requests go: a loopback address, the `Host` header, and a path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The address connected to.
    pub addr: SocketAddr,
    /// The `Host` header (the URL's authority).
    pub host: String,
    /// Prepended to every request path, without a trailing `/` (e.g. `/bench`).
    pub prefix: String,
}

/// Why a target URL was refused.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Not `http://host:port[/prefix]`.
    #[error("bad target URL: {0}")]
    Malformed(String),
    /// The host resolves to an address outside 127.0.0.0/8 and ::1.
    #[error(
        "{0} is not a loopback address: the load generator only targets servers on this machine (127.0.0.0/8, ::1)"
    )]
    NotLoopback(String),
}

impl Target {
    /// Parses `http://host:port[/prefix]`; the host must resolve to loopback addresses only.
    ///
    /// ```
    /// use sessionkit_bench::client::Target;
    ///
    /// let target = Target::parse("http://127.0.0.1:8000/bench").unwrap();
    /// assert_eq!(target.prefix, "/bench");
    /// assert!(Target::parse("http://192.168.1.10:8000").is_err());
    /// ```
    pub fn parse(url: &str) -> Result<Target, TargetError> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| TargetError::Malformed(format!("{url}: only http:// is supported")))?;
        let (authority, prefix) = match rest.find('/') {
            Some(slash) => (&rest[..slash], rest[slash..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if !authority.contains(':') || authority.ends_with(']') {
            return Err(TargetError::Malformed(format!("{url}: give the port")));
        }
        let addrs: Vec<SocketAddr> = authority
            .to_socket_addrs()
            .map_err(|e| TargetError::Malformed(format!("{url}: {e}")))?
            .collect();
        if addrs.is_empty() || !addrs.iter().all(|a| a.ip().is_loopback()) {
            return Err(TargetError::NotLoopback(url.to_owned()));
        }
        Ok(Target {
            addr: addrs[0],
            host: authority.to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

/// The request methods the benchmark routes use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST` with an empty body.
    Post,
}

/// What a response carried that the load generator looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Every `Set-Cookie` header value, in order.
    pub set_cookies: Vec<String>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

/// One keep-alive connection, opened on first use and again after the server closes it.
#[derive(Debug)]
pub struct Connection {
    target: Target,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    request: Vec<u8>,
    /// Connections opened so far (1 for a connection kept alive throughout).
    pub connects: u64,
}

impl Connection {
    /// A connection to `target`; nothing is opened until the first request.
    pub fn new(target: Target) -> Self {
        Connection {
            target,
            stream: None,
            buf: Vec::with_capacity(8 * 1024),
            request: Vec::with_capacity(1024),
            connects: 0,
        }
    }

    /// Sends one request (path relative to the target's prefix) and reads the response.
    ///
    /// A reused connection the server closed while idle is reopened and the request sent once
    /// more, as browsers do; any other failure is returned and the connection dropped.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        cookie: Option<&str>,
    ) -> io::Result<Response> {
        self.build_request(method, path, cookie);
        let reused = self.stream.is_some();
        match self.exchange().await {
            Ok(response) => Ok(response),
            Err(Exchange::ClosedBeforeResponse) if reused => {
                self.stream = None;
                self.exchange().await.map_err(Exchange::into_io)
            }
            Err(error) => {
                self.stream = None;
                Err(error.into_io())
            }
        }
    }

    fn build_request(&mut self, method: Method, path: &str, cookie: Option<&str>) {
        let r = &mut self.request;
        r.clear();
        r.extend_from_slice(match method {
            Method::Get => b"GET ",
            Method::Post => b"POST ",
        });
        r.extend_from_slice(self.target.prefix.as_bytes());
        r.extend_from_slice(path.as_bytes());
        r.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        r.extend_from_slice(self.target.host.as_bytes());
        r.extend_from_slice(b"\r\n");
        if let Some(cookie) = cookie {
            r.extend_from_slice(b"Cookie: ");
            r.extend_from_slice(cookie.as_bytes());
            r.extend_from_slice(b"\r\n");
        }
        if method == Method::Post {
            r.extend_from_slice(b"Content-Length: 0\r\n");
        }
        r.extend_from_slice(b"\r\n");
    }

    async fn exchange(&mut self) -> Result<Response, Exchange> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.target.addr).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
            self.connects += 1;
        }
        let stream = self.stream.as_mut().expect("connected above");
        stream.write_all(&self.request).await?;
        self.buf.clear();
        let head_end = loop {
            if let Some(at) = find(&self.buf, b"\r\n\r\n", 0) {
                break at + 4;
            }
            if read_more(stream, &mut self.buf).await? == 0 {
                return Err(if self.buf.is_empty() {
                    Exchange::ClosedBeforeResponse
                } else {
                    Exchange::Io(truncated("the response head"))
                });
            }
        };
        let head = parse_head(&self.buf[..head_end]).map_err(Exchange::Io)?;
        let body = match head.framing {
            Framing::Length(length) => {
                while self.buf.len() < head_end + length {
                    if read_more(stream, &mut self.buf).await? == 0 {
                        return Err(Exchange::Io(truncated("the body")));
                    }
                }
                self.buf[head_end..head_end + length].to_vec()
            }
            Framing::Chunked => read_chunked(stream, &mut self.buf, head_end).await?,
            Framing::None => Vec::new(),
            Framing::UntilClose => {
                while read_more(stream, &mut self.buf).await? > 0 {}
                self.buf[head_end..].to_vec()
            }
        };
        if !head.keep_alive || head.framing == Framing::UntilClose {
            self.stream = None;
        }
        Ok(Response {
            status: head.status,
            set_cookies: head.set_cookies,
            body,
        })
    }
}

/// How an exchange failed: the server closing an idle connection is worth one retry.
enum Exchange {
    ClosedBeforeResponse,
    Io(io::Error),
}

impl From<io::Error> for Exchange {
    fn from(error: io::Error) -> Self {
        Exchange::Io(error)
    }
}

impl Exchange {
    fn into_io(self) -> io::Error {
        match self {
            Exchange::ClosedBeforeResponse => io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection without answering",
            ),
            Exchange::Io(error) => error,
        }
    }
}

fn truncated(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("the server closed the connection in the middle of {what}"),
    )
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    buf.reserve(4096);
    stream.read_buf(buf).await
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    memchr::memmem::find(haystack.get(from..)?, needle).map(|at| at + from)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
    /// No body by definition (1xx, 204, 304).
    None,
    UntilClose,
}

#[derive(Debug)]
struct Head {
    status: u16,
    framing: Framing,
    keep_alive: bool,
    set_cookies: Vec<String>,
}

fn parse_head(head: &[u8]) -> io::Result<Head> {
    let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_owned());
    let text = std::str::from_utf8(head).map_err(|_| bad("response head is not UTF-8"))?;
    // Each line ends in CRLF; `lines` drops both (a bare LF cannot occur in a valid head).
    let mut lines = text.lines();
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("malformed status line"))?;
    let mut keep_alive = version == "HTTP/1.1";
    let mut length = None;
    let mut chunked = false;
    let mut set_cookies = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad("malformed header line"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse().map_err(|_| bad("bad Content-Length"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            let value = value.to_ascii_lowercase();
            if value.contains("close") {
                keep_alive = false;
            } else if value.contains("keep-alive") {
                keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case("set-cookie") {
            set_cookies.push(value.to_owned());
        }
    }
    let framing = if status < 200 || status == 204 || status == 304 {
        Framing::None
    } else if chunked {
        Framing::Chunked
    } else if let Some(length) = length {
        Framing::Length(length)
    } else {
        Framing::UntilClose
    };
    Ok(Head {
        status,
        framing,
        keep_alive,
        set_cookies,
    })
}

async fn read_chunked(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    mut pos: usize,
) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(at) = find(buf, b"\r\n", pos) {
                break at;
            }
            if read_more(stream, buf).await? == 0 {
                return Err(truncated("a chunk size"));
            }
        };
        let size_text = std::str::from_utf8(&buf[pos..line_end]).unwrap_or_default();
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
        pos = line_end + 2;
        if size == 0 {
            // No trailers from the servers measured here: the last chunk ends with one CRLF.
            while buf.len() < pos + 2 {
                if read_more(stream, buf).await? == 0 {
                    return Err(truncated("the last chunk"));
                }
            }
            return Ok(body);
        }
        while buf.len() < pos + size + 2 {
            if read_more(stream, buf).await? == 0 {
                return Err(truncated("a chunk"));
            }
        }
        body.extend_from_slice(&buf[pos..pos + size]);
        pos += size + 2;
    }
}

/// The cookies one simulated browser holds for the target: name → value.
///
/// Attributes are ignored (one host, path `/`), `Secure` included: the benchmark talks plain
/// HTTP to 127.0.0.1 and must send the session cookie anyway, as a browser does on localhost.
///
/// ```
/// use sessionkit_bench::client::CookieJar;
///
/// let mut jar = CookieJar::default();
/// jar.store("sessionid=abc; Path=/; Secure; HttpOnly");
/// assert_eq!(jar.header(), Some("sessionid=abc"));
/// jar.store("sessionid=; Max-Age=0; Path=/");
/// assert_eq!(jar.header(), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CookieJar {
    cookies: Vec<(String, String)>,
    /// The `Cookie` header for `cookies`, rewritten only when one changes: the jar should cost
    /// the shared cores as little as it can, since bare axum's clients have no cookies at all.
    header: String,
}

impl CookieJar {
    /// Applies one `Set-Cookie` header value. A cookie with `Max-Age` of zero or less (what
    /// Django, sessionkit and tower-sessions all send to delete one) is removed; a new value
    /// replaces the old one in its place (a browser keeps the old cookie's creation time, which
    /// orders the `Cookie` header: RFC 6265, 5.3 and 5.4).
    pub fn store(&mut self, set_cookie: &str) {
        let mut parts = set_cookie.split(';');
        let Some((name, value)) = parts.next().and_then(|pair| pair.split_once('=')) else {
            return;
        };
        let (name, value) = (name.trim(), value.trim());
        let deleted = parts.any(|attr| {
            attr.split_once('=').is_some_and(|(key, age)| {
                key.trim().eq_ignore_ascii_case("max-age")
                    && age.trim().parse::<i64>().is_ok_and(|age| age <= 0)
            })
        });
        match (self.cookies.iter().position(|(n, _)| n == name), deleted) {
            (Some(held), true) => {
                self.cookies.remove(held);
            }
            (Some(held), false) if self.cookies[held].1 != value => {
                let held = &mut self.cookies[held].1;
                held.clear();
                held.push_str(value);
            }
            (None, false) => self.cookies.push((name.to_owned(), value.to_owned())),
            // The same value again, or deleting what the jar does not hold: nothing changes.
            _ => return,
        }
        self.header.clear();
        for (name, value) in &self.cookies {
            if !self.header.is_empty() {
                self.header.push_str("; ");
            }
            self.header.push_str(name);
            self.header.push('=');
            self.header.push_str(value);
        }
    }

    /// Applies every `Set-Cookie` of a response.
    pub fn store_all(&mut self, response: &Response) {
        for set_cookie in &response.set_cookies {
            self.store(set_cookie);
        }
    }

    /// The value of the cookie `name`, if held.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `Cookie` request header, or `None` when the jar is empty.
    pub fn header(&self) -> Option<&str> {
        (!self.cookies.is_empty()).then_some(self.header.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn only_loopback_targets_are_accepted() {
        for ok in [
            "http://127.0.0.1:8000",
            "http://localhost:8000/bench/",
            "http://[::1]:9",
        ] {
            assert!(Target::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1:80",
            "http://8.8.8.8:80",
            "https://127.0.0.1:443",
            "http://127.0.0.1",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Target::parse("http://localhost:8000/bench/")
                .unwrap()
                .prefix,
            "/bench"
        );
    }

    #[test]
    fn the_jar_replaces_and_deletes_by_name() {
        let mut jar = CookieJar::default();
        jar.store("a=1");
        jar.store("sessionid=x; Secure");
        jar.store("a=2; Max-Age=100");
        assert_eq!(jar.header(), Some("a=2; sessionid=x"));
        jar.store(r#"sessionid=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/"#);
        assert_eq!(jar.get("sessionid"), None);
        assert_eq!(jar.get("a"), Some("2"));
        assert_eq!(jar.header(), Some("a=2"));
    }

    #[test]
    fn the_header_follows_every_change_and_only_changes() {
        let mut jar = CookieJar::default();
        jar.store("b=1; Max-Age=0");
        assert_eq!(jar.header(), None);
        jar.store("a=1");
        jar.store("b=2");
        jar.store("a=1; Path=/");
        assert_eq!(jar.header(), Some("a=1; b=2"));
        jar.store("a=longer-than-before");
        assert_eq!(jar.header(), Some("a=longer-than-before; b=2"));
        jar.store("a=; Max-Age=0");
        jar.store("b=; Max-Age=-1");
        assert_eq!(jar.header(), None);
    }

    /// A server that answers each request with the next canned response, then closes.
    async fn canned(responses: Vec<&'static [u8]>) -> Target {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            for response in responses {
                let mut seen = Vec::new();
                while find(&seen, b"\r\n\r\n", 0).is_none() {
                    let n = socket.read(&mut buf).await.unwrap();
                    seen.extend_from_slice(&buf[..n]);
                }
                socket.write_all(response).await.unwrap();
            }
        });
        Target::parse(&format!("http://{addr}")).unwrap()
    }

    #[tokio::test]
    async fn reads_length_chunked_and_close_delimited_bodies_on_one_connection() {
        let target = canned(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: s=1; Secure\r\n\r\n42",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n",
            b"HTTP/1.0 200 OK\r\n\r\nuntil close",
        ])
        .await;
        let mut connection = Connection::new(target);
        let first = connection.send(Method::Get, "/a", None).await.unwrap();
        assert_eq!(first.body, b"42");
        assert_eq!(first.set_cookies, ["s=1; Secure"]);
        let second = connection
            .send(Method::Post, "/b", Some("s=1"))
            .await
            .unwrap();
        assert_eq!(second.body, b"abc");
        // The canned server writes the third response and drops the socket.
        let third = connection.send(Method::Get, "/c", None).await.unwrap();
        assert_eq!(third.body, b"until close");
        assert_eq!(connection.connects, 1);
    }
}
