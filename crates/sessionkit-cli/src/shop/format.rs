//! How values are written out on the store's pages: text escaped for HTML, amounts of money,
//! points in time. Pure helpers at the bottom of the store, importing none of its modules.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Escapes text for element content and quoted attribute values.
pub fn escape(text: &str) -> String {
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

/// Amounts in cents as dollars, e.g. `$12.50`.
pub fn money(cents: u32) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

/// `at` in RFC 3339 to the second, e.g. `2026-01-31T12:00:00Z`.
pub fn timestamp(at: OffsetDateTime) -> String {
    at.replace_nanosecond(0)
        .unwrap_or(at)
        .format(&Rfc3339)
        .unwrap_or_else(|_| at.to_string())
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
    fn timestamps_are_rfc3339_to_the_second() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        assert_eq!(timestamp(at), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn money_has_two_decimals() {
        assert_eq!(money(0), "$0.00");
        assert_eq!(money(1250), "$12.50");
        assert_eq!(money(99_905), "$999.05");
    }
}
