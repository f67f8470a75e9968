//! The demo users, and which of them a session is logged in as. Only their password hashes are
//! kept here (made by Django 5.2's `make_password`, 1,000,000 PBKDF2 iterations); the login page
//! shows the demo passwords.

use sessionkit::engine::USER_ID_KEY;
use sessionkit::{Session, SessionError};

use super::password;

/// A user of the store.
#[derive(Debug, PartialEq, Eq)]
pub struct User {
    /// The id stored in the session (Django's `_auth_user_id` is a string too).
    pub id: &'static str,
    /// What the user types to log in.
    pub username: &'static str,
    /// What the pages call the user.
    pub name: &'static str,
    password_hash: &'static str,
}

pub const USERS: [User; 3] = [
    User {
        id: "1",
        username: "alice",
        name: "Alice",
        password_hash: "pbkdf2_sha256$1000000$CZQTecashSrPBcttw7BIS0$6v74GBJsZNVI06TQ8dhcNl425MZxDjuBLDLgaJYRFYI=",
    },
    User {
        id: "2",
        username: "bob",
        name: "Bob",
        password_hash: "pbkdf2_sha256$1000000$p2hmy0v28Bs7jNGYmpp6VM$43i2jbCiPDOtWnkZhIsyldyGNk6RBf9NewisQA1+OTU=",
    },
    User {
        id: "3",
        username: "carol",
        name: "Carol",
        password_hash: "pbkdf2_sha256$1000000$cKuKoU9j4ySwp9Xkw4rECz$3L/p8wSH3o1O5QX7vbAqQfZL9NE6RQGQ8QZaX63v9i0=",
    },
];

/// Who is logged in: the user whose id the session holds, if that user exists.
pub fn current_user(session: &Session) -> Result<Option<&'static User>, SessionError> {
    Ok(session
        .get::<String>(USER_ID_KEY)?
        .and_then(|id| by_id(&id)))
}

/// The user with this id, if there is one.
pub fn by_id(id: &str) -> Option<&'static User> {
    USERS.iter().find(|user| user.id == id)
}

/// The user these credentials belong to. An unknown username costs as much time as a wrong
/// password (a hash is still checked, as Django does), so response times do not reveal which
/// usernames exist. The hashing runs on a blocking thread, off the async runtime.
pub async fn authenticate(username: &str, password: String) -> Option<&'static User> {
    let user = USERS.iter().find(|user| user.username == username);
    let hash = user.unwrap_or(&USERS[0]).password_hash;
    let matches = tokio::task::spawn_blocking(move || password::verify(&password, hash))
        .await
        .unwrap_or(false);
    user.filter(|_| matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_usernames_are_unique() {
        for (i, user) in USERS.iter().enumerate() {
            assert!(USERS[i + 1..].iter().all(|other| other.id != user.id));
            assert!(USERS[i + 1..].iter().all(|o| o.username != user.username));
        }
    }

    #[tokio::test]
    async fn a_wrong_password_or_unknown_user_is_refused() {
        assert_eq!(authenticate("alice", "builder".to_owned()).await, None);
        assert_eq!(authenticate("mallory", "wonderland".to_owned()).await, None);
        assert_eq!(authenticate("Alice", "wonderland".to_owned()).await, None);
    }
}
