//! The HTML around every page: header with the navigation, the page itself, and the "under
//! the hood" panel. Server-rendered, a little inline CSS, no JavaScript.

use sessionkit::django::messages::Message;

use super::format::escape;
use super::users::User;

/// What the frame around a page shows.
pub struct Frame<'a> {
    /// The page's title (plain text).
    pub title: &'a str,
    /// Who is logged in.
    pub user: Option<&'a User>,
    /// Items in the cart.
    pub cart_items: u32,
    /// The hidden CSRF field for the logout form (needed only when someone is logged in).
    pub csrf_field: Option<&'a str>,
    /// Flash messages to show once, above the content (Django's messages framework).
    pub messages: &'a [Message],
    /// The page's content (HTML).
    pub main: &'a str,
    /// The "under the hood" panel (HTML).
    pub hood: &'a str,
}

const STYLE: &str = "
  :root { --ink: #1d2330; --muted: #5b6475; --line: #e3e6ec; --accent: #2f5bd3; --bg: #f6f7fb; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: var(--ink); background: var(--bg); }
  a { color: var(--accent); text-decoration: none; }
  a:hover { text-decoration: underline; }
  header { background: var(--ink); color: #fff; }
  header .bar { max-width: 64rem; margin: 0 auto; padding: .75rem 1rem; display: flex; gap: 1.25rem; align-items: center; flex-wrap: wrap; }
  header a { color: #fff; }
  header .brand { font-weight: 700; font-size: 1.15rem; margin-right: auto; }
  header form { margin: 0; }
  header button { background: transparent; color: #fff; border: 1px solid #fff6; padding: .2rem .7rem; }
  .badge { white-space: nowrap; display: inline-block; min-width: 1.5rem; padding: 0 .4rem; border-radius: 1rem; background: var(--accent); color: #fff; text-align: center; font-size: .85rem; }
  main { max-width: 64rem; margin: 1.5rem auto; padding: 0 1rem; }
  .messages { list-style: none; padding: 0; }
  .messages li { padding: .5rem .8rem; border-radius: 6px; background: #e8f5e9; }
  h1 { font-size: 1.6rem; margin: 0 0 1rem; }
  h2 { font-size: 1.2rem; }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); gap: 1rem; }
  .card { background: #fff; border: 1px solid var(--line); border-radius: .75rem; padding: 1rem; display: flex; flex-direction: column; gap: .5rem; }
  .card p { margin: 0; color: var(--muted); flex: 1; }
  .tile { height: 6rem; border-radius: .5rem; display: grid; place-items: center; color: #fff; font-size: 2.5rem; font-weight: 700; }
  .tile.big { height: 12rem; font-size: 5rem; }
  .price { font-weight: 700; }
  .product { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1.5rem; background: #fff; border: 1px solid var(--line); border-radius: .75rem; padding: 1.5rem; }
  button { font: inherit; cursor: pointer; border-radius: .5rem; border: 0; background: var(--accent); color: #fff; padding: .45rem .9rem; }
  button.quiet { background: transparent; color: var(--accent); border: 1px solid var(--line); padding: .2rem .6rem; }
  table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); border-radius: .75rem; overflow: hidden; }
  th, td { text-align: left; padding: .6rem .8rem; border-bottom: 1px solid var(--line); }
  th, td.when { white-space: nowrap; }
  td.num, th.num { text-align: right; }
  form.stack { display: grid; gap: .75rem; max-width: 22rem; background: #fff; border: 1px solid var(--line); border-radius: .75rem; padding: 1.25rem; }
  form.stack input { font: inherit; padding: .4rem .5rem; border: 1px solid var(--line); border-radius: .4rem; width: 100%; }
  .error { color: #b00020; font-weight: 600; }
  .note { background: #fff8e1; border: 1px solid #f3d77a; border-radius: .5rem; padding: .75rem 1rem; }
  code, pre { font-family: ui-monospace, monospace; font-size: .9rem; }
  code { background: #eceef4; padding: 0 .25rem; border-radius: .25rem; }
  aside.hood { max-width: 62rem; margin: 2rem auto; background: #101522; color: #d9deea; border-radius: .75rem; padding: 1rem 1.25rem; font-size: .92rem; }
  aside.hood h2 { margin: 0 0 .5rem; font-size: 1rem; color: #fff; letter-spacing: .04em; text-transform: uppercase; }
  aside.hood code { background: #26304a; color: #fff; }
  aside.hood pre { background: #1b2235; padding: .75rem; border-radius: .5rem; overflow-x: auto; white-space: pre-wrap; word-break: break-all; margin: .5rem 0; }
  aside.hood dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
  aside.hood dt { color: #8f9ab3; }
  aside.hood dd { margin: 0; }
  .meter { height: .5rem; background: #26304a; border-radius: .25rem; overflow: hidden; margin-top: .25rem; max-width: 20rem; }
  .meter span { display: block; height: 100%; background: #5ad08a; }
  @media (max-width: 64rem) { aside.hood { margin: 2rem 1rem; } .product { grid-template-columns: 1fr; } }
";

/// The whole HTML document.
pub fn render(frame: &Frame<'_>) -> String {
    let Frame {
        title,
        user,
        cart_items,
        csrf_field,
        messages,
        main,
        hood,
    } = frame;
    let title = escape(title);
    let messages = flash(messages);
    let account = match (user, csrf_field) {
        (Some(user), Some(csrf_field)) => format!(
            "<a href=\"/account\">Signed in as <strong id=\"who\">{name}</strong></a>
    <form id=\"logout\" method=\"post\" action=\"/logout\">{csrf_field}<button>Log out</button></form>",
            name = escape(user.name),
        ),
        _ => "<a id=\"login-link\" href=\"/login\">Log in</a>".to_owned(),
    };
    format!(
        "<!doctype html>
<html lang=\"en\">
<head>
<meta charset=\"utf-8\">
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">
<title>{title} · sessionkit demo store</title>
<style>{STYLE}</style>
</head>
<body>
<header>
  <div class=\"bar\">
    <a class=\"brand\" href=\"/\">sessionkit demo store</a>
    <a href=\"/\">Products</a>
    <a href=\"/cart\">Cart <span class=\"badge\" id=\"cart-count\">{cart_items}</span></a>
    {account}
  </div>
</header>
<main>
{messages}<h1>{title}</h1>
{main}
</main>
{hood}
</body>
</html>
"
    )
}

/// The flash messages as a list whose items carry Django's tags as classes; text is escaped
/// unless the message was marked safe.
fn flash(messages: &[Message]) -> String {
    if messages.is_empty() {
        return String::new();
    }
    let items: String = messages
        .iter()
        .map(|message| {
            let text = if message.safe {
                message.text.clone()
            } else {
                escape(&message.text)
            };
            format!("<li class=\"{}\">{text}</li>", escape(&message.tags()))
        })
        .collect();
    format!("<ul class=\"messages\" id=\"messages\">{items}</ul>\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shop::users::USERS;
    use sessionkit::django::messages::Level;

    #[test]
    fn the_frame_escapes_the_title_and_offers_logout_with_the_token_when_logged_in() {
        let frame = Frame {
            title: "<b>Cart</b>",
            user: Some(&USERS[0]),
            cart_items: 2,
            csrf_field: Some("<input name=\"csrfmiddlewaretoken\" value=\"t0k3n\">"),
            messages: &[Message::new(Level::SUCCESS, "Added <tea>.")],
            main: "<p>main</p>",
            hood: "<aside>hood</aside>",
        };
        let html = render(&frame);
        assert!(html.contains("<h1>&lt;b&gt;Cart&lt;/b&gt;</h1>"), "{html}");
        assert!(html.contains("<strong id=\"who\">Alice</strong>"));
        assert!(
            html.contains("<input name=\"csrfmiddlewaretoken\" value=\"t0k3n\"><button>Log out")
        );
        assert!(html.contains("<span class=\"badge\" id=\"cart-count\">2</span>"));
        assert!(html.contains("<p>main</p>") && html.contains("<aside>hood</aside>"));
        assert!(
            html.contains("<li class=\"success\">Added &lt;tea&gt;.</li>"),
            "{html}"
        );

        let anonymous = render(&Frame {
            user: None,
            csrf_field: None,
            ..frame
        });
        assert!(anonymous.contains("id=\"login-link\""));
        assert!(!anonymous.contains("/logout"));
    }
}
