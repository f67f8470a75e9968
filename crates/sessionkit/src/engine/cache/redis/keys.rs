//! Key naming. On a single node and under Sentinel the names are those sessionkit has always
//! used, so existing sessions stay readable:
//! `PREFIX<id>` (the session), `PREFIXlock:<id>`, `PREFIXuser:<user id>`, `PREFIXepoch`.
//!
//! On a Redis Cluster every key carries a hash tag so that one operation touches one slot:
//! `PREFIX{<id>}` and `PREFIXlock:{<id>}` share the session's slot (load, versioned save,
//! delete, lock and unlock are one slot each), and `PREFIXuser:{<user id>}` lives in the
//! user's slot. The index and the session are then never written by one script; see
//! [`super::RedisStore`] for the order of those two writes.

/// The key names of one store.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
    /// Hash tags around the part that picks the slot (a cluster).
    tagged: bool,
}

impl Keys {
    pub(crate) fn new(prefix: String, tagged: bool) -> Keys {
        Keys { prefix, tagged }
    }

    /// Whether keys carry hash tags: on a cluster, where one script must not touch a
    /// session and its user's index together.
    pub(crate) fn is_tagged(&self) -> bool {
        self.tagged
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `PREFIX` + `part`, with `part` as the hash tag on a cluster.
    fn key(&self, kind: &str, part: &str) -> String {
        if self.tagged {
            format!("{}{kind}{{{part}}}", self.prefix)
        } else {
            format!("{}{kind}{part}", self.prefix)
        }
    }

    pub(crate) fn session(&self, id: &str) -> String {
        self.key("", id)
    }

    pub(crate) fn lock(&self, id: &str) -> String {
        self.key("lock:", id)
    }

    /// The set of a user's session ids.
    pub(crate) fn user(&self, user_id: &str) -> String {
        self.key("user:", user_id)
    }

    /// The cache epoch's counter (`cached_db`, which is refused on a cluster).
    pub(crate) fn epoch(&self) -> String {
        format!("{}epoch", self.prefix)
    }

    /// The session id a key SCAN found names, if it is a session key (not a lock, an index
    /// or the epoch).
    pub(crate) fn id_of<'k>(&self, key: &'k str) -> Option<&'k str> {
        let rest = key.strip_prefix(&self.prefix)?;
        let id = if self.tagged {
            rest.strip_prefix('{')?.strip_suffix('}')?
        } else {
            rest
        };
        crate::engine::store::is_key_hash(id).then_some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn single_node_names_are_unchanged() {
        let keys = Keys::new("s:".into(), false);
        assert_eq!(keys.session("x"), "s:x");
        assert_eq!(keys.lock("x"), "s:lock:x");
        assert_eq!(keys.user("7"), "s:user:7");
        assert_eq!(keys.epoch(), "s:epoch");
    }

    #[test]
    fn cluster_names_share_the_session_slot() {
        let keys = Keys::new("s:".into(), true);
        assert_eq!(keys.session("x"), "s:{x}");
        assert_eq!(keys.lock("x"), "s:lock:{x}");
        assert_eq!(keys.user("7"), "s:user:{7}");
    }

    #[test]
    fn only_session_keys_name_an_id() {
        for tagged in [false, true] {
            let keys = Keys::new("s:".into(), tagged);
            assert_eq!(keys.id_of(&keys.session(ID)), Some(ID));
            assert_eq!(keys.id_of(&keys.lock(ID)), None);
            assert_eq!(keys.id_of(&keys.user(ID)), None);
        }
    }
}
