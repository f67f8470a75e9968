//! The store's one page: server-rendered HTML with a little inline CSS and no JavaScript.

use sessionkit::EngineKind;

/// What the page shows.
pub struct Page<'a> {
    /// The engine keeping the sessions.
    pub engine: EngineKind,
    /// Visits to `/` in this session.
    pub visits: u64,
    /// Who is logged in, as they typed it.
    pub user: Option<&'a str>,
    /// Why the last form was refused.
    pub error: Option<&'a str>,
}

/// The whole HTML document; every user-provided string in it is escaped.
pub fn render(page: &Page<'_>) -> String {
    let Page {
        engine,
        visits,
        user,
        error,
    } = page;
    let error = error
        .map(|error| format!("<p class=\"error\">{}</p>", escape(error)))
        .unwrap_or_default();
    let account = match user {
        Some(user) => format!(
            "<p>Logged in as <strong>{}</strong>.</p>
<form method=\"post\" action=\"/logout\"><button>Log out</button></form>",
            escape(user)
        ),
        None => "<p>You are not logged in.</p>
<form method=\"post\" action=\"/login\">
  <label>Username <input name=\"username\" required autocomplete=\"username\"></label>
  <button>Log in</button>
</form>"
            .to_owned(),
    };
    format!(
        "<!doctype html>
<html lang=\"en\">
<head>
<meta charset=\"utf-8\">
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">
<title>sessionkit demo store</title>
<style>
  body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem; color: #222; }}
  form {{ display: flex; gap: .5rem; align-items: center; }}
  .error {{ color: #b00020; }}
  code {{ background: #f2f2f2; padding: 0 .25rem; border-radius: .25rem; }}
  footer {{ margin-top: 2rem; color: #666; font-size: .875rem; }}
</style>
</head>
<body>
<h1>sessionkit demo store</h1>
<p>Visits in this session: <strong>{visits}</strong></p>
{error}
{account}
<footer>Sessions are kept by the <code>{engine}</code> engine.</footer>
</body>
</html>
"
    )
}

/// Escapes text for element content and quoted attribute values.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#x27;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_user_text_is_escaped() {
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#x27;Jerry&#x27;&lt;/a&gt;"
        );
    }

    #[test]
    fn the_page_shows_the_user_escaped_and_the_engine() {
        let html = render(&Page {
            engine: EngineKind::Db,
            visits: 3,
            user: Some("<b>eve</b>"),
            error: None,
        });
        assert!(html.contains("Logged in as <strong>&lt;b&gt;eve&lt;/b&gt;</strong>"));
        assert!(!html.contains("<b>eve</b>"));
        assert!(html.contains("<code>db</code>"));
        assert!(html.contains("<strong>3</strong>"));
    }
}
