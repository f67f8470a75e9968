//! Where `SESSION_CACHE_URL` says Redis is: a single node (`redis://`, `rediss://`,
//! `redis+unix://`), a Redis Cluster (`redis+cluster://h1:p1,h2:p2,…`, `rediss+cluster://` for
//! TLS: seed nodes, the topology is discovered from them) or a Redis Sentinel setup
//! (`redis+sentinel://[[user]:password@]s1:p1,s2:p2,…/mastername[/db]`, `rediss+sentinel://`
//! for TLS to the sentinels and the data nodes alike; the credentials are the data nodes', as
//! in Lettuce's `redis-sentinel://` URLs).

/// Where `SESSION_CACHE_URL` says Redis is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Topology {
    /// One server: the URL as redis reads it.
    Single(String),
    /// A Redis Cluster's seed nodes, as `redis://` (or `rediss://`) URLs.
    Cluster(Vec<String>),
    /// Sentinels (`host:port`), the master's name and the database number.
    Sentinel {
        sentinels: Vec<(String, u16)>,
        master: String,
        db: i64,
        /// `rediss+sentinel://`: TLS to the sentinels and to the nodes they name.
        tls: bool,
        /// Who the data nodes know the application as (the sentinels are asked anonymously).
        credentials: Credentials,
    },
}

/// A user name and password from a URL, percent-decoded as redis reads them in `redis://`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Credentials {
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
}

impl Credentials {
    /// Reads `user:password@` (or `:password@`, `user@`, or nothing).
    fn parse(text: &str) -> Result<Credentials, String> {
        let decode = |part: &str| -> Result<Option<String>, String> {
            let decoded = percent_encoding::percent_decode_str(part)
                .decode_utf8()
                .map_err(|_| "has credentials that are not UTF-8 once percent-decoded")?;
            Ok((!decoded.is_empty()).then(|| decoded.into_owned()))
        };
        let Some(userinfo) = text.strip_suffix('@') else {
            return Ok(Credentials::default());
        };
        let (username, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        Ok(Credentials {
            username: decode(username)?,
            password: decode(password)?,
        })
    }
}

impl Topology {
    /// Reads `url`; the error says what is wrong with it (the caller names the setting).
    pub(crate) fn parse(url: &str) -> Result<Topology, String> {
        if let Some((scheme, rest)) = url
            .strip_prefix("redis+cluster://")
            .map(|rest| ("redis", rest))
            .or_else(|| {
                url.strip_prefix("rediss+cluster://")
                    .map(|rest| ("rediss", rest))
            })
        {
            let (credentials, hosts) = split_credentials(rest.trim_end_matches('/'));
            let nodes = host_list(hosts)?
                .into_iter()
                .map(|(host, port)| format!("{scheme}://{credentials}{host}:{port}"))
                .collect();
            return Ok(Topology::Cluster(nodes));
        }
        if let Some((tls, rest)) = url
            .strip_prefix("redis+sentinel://")
            .map(|rest| (false, rest))
            .or_else(|| {
                url.strip_prefix("rediss+sentinel://")
                    .map(|rest| (true, rest))
            })
        {
            let (hosts, path) = rest
                .split_once('/')
                .ok_or("names no master: use redis+sentinel://HOST:PORT,…/MASTERNAME[/DB]")?;
            let (credentials, hosts) = split_credentials(hosts);
            let (master, db) = match path.split_once('/') {
                Some((master, db)) => (
                    master,
                    db.parse()
                        .map_err(|_| format!("{db:?} is not a database number"))?,
                ),
                None => (path, 0),
            };
            if master.is_empty() {
                return Err("names no master: use redis+sentinel://HOST:PORT,…/MASTERNAME".into());
            }
            return Ok(Topology::Sentinel {
                sentinels: host_list(hosts)?,
                master: master.to_owned(),
                db,
                tls,
                credentials: Credentials::parse(credentials)?,
            });
        }
        Ok(Topology::Single(url.to_owned()))
    }

    /// Whether keys must be laid out in hash slots (a cluster).
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Topology::Cluster(_))
    }
}

/// `user:password@` (kept, with its `@`) and the rest.
fn split_credentials(rest: &str) -> (&str, &str) {
    match rest.rfind('@') {
        Some(at) => rest.split_at(at + 1),
        None => ("", rest),
    }
}

/// `h1:p1,h2:p2,…`: at least one host, each with its port.
fn host_list(hosts: &str) -> Result<Vec<(String, u16)>, String> {
    let list: Result<Vec<_>, String> = hosts
        .split(',')
        .map(|node| {
            let (host, port) = node
                .rsplit_once(':')
                .ok_or_else(|| format!("{node:?} is not HOST:PORT"))?;
            let port = port
                .parse()
                .map_err(|_| format!("{node:?} has no valid port"))?;
            if host.is_empty() {
                return Err(format!("{node:?} has no host"));
            }
            Ok((host.to_owned(), port))
        })
        .collect();
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_topology() {
        assert_eq!(
            Topology::parse("redis://127.0.0.1:6379/0"),
            Ok(Topology::Single("redis://127.0.0.1:6379/0".into()))
        );
        assert_eq!(
            Topology::parse("redis+cluster://:pw@a:7000,b:7001"),
            Ok(Topology::Cluster(vec![
                "redis://:pw@a:7000".into(),
                "redis://:pw@b:7001".into()
            ]))
        );
        assert_eq!(
            Topology::parse("rediss+cluster://a:7000"),
            Ok(Topology::Cluster(vec!["rediss://a:7000".into()]))
        );
        assert_eq!(
            Topology::parse("redis+sentinel://s1:26379,s2:26380/main/2"),
            Ok(Topology::Sentinel {
                sentinels: vec![("s1".into(), 26379), ("s2".into(), 26380)],
                master: "main".into(),
                db: 2,
                tls: false,
                credentials: Credentials::default(),
            })
        );
        assert_eq!(
            Topology::parse("rediss+sentinel://app:p%40ss@s1:26379/main"),
            Ok(Topology::Sentinel {
                sentinels: vec![("s1".into(), 26379)],
                master: "main".into(),
                db: 0,
                tls: true,
                credentials: Credentials {
                    username: Some("app".into()),
                    password: Some("p@ss".into()),
                },
            })
        );
    }

    #[test]
    fn credentials_read_as_redis_reads_them() {
        let parsed = |text| Credentials::parse(text).unwrap();
        assert_eq!(parsed(""), Credentials::default());
        assert_eq!(parsed(":secret@").password.as_deref(), Some("secret"));
        assert_eq!(parsed(":secret@").username, None);
        assert_eq!(parsed("app@").username.as_deref(), Some("app"));
        assert_eq!(parsed("app@").password, None);
        assert!(Credentials::parse(":%FF@").is_err(), "not UTF-8");
    }

    #[test]
    fn bad_urls_say_why() {
        assert!(Topology::parse("redis+cluster://a").is_err());
        assert!(Topology::parse("redis+cluster://a:x").is_err());
        assert!(Topology::parse("redis+sentinel://s1:26379").is_err());
        assert!(Topology::parse("redis+sentinel://s1:26379/").is_err());
        assert!(Topology::parse("redis+sentinel://s1:26379/m/x").is_err());
        assert!(
            Topology::parse("rediss+sentinel://:pw@/m").is_err(),
            "no sentinel"
        );
    }
}
