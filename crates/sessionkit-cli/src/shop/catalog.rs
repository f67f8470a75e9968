//! The products: a fixed list, the product list at `/` and a page per product.

use axum::extract::Path;
use axum::response::Response;
use sessionkit::SessionError;

use super::cart;
use super::format::{escape, money};
use super::visit::Visit;

/// Something the store sells.
#[derive(Debug, PartialEq, Eq)]
pub struct Product {
    /// Its address: `/products/{slug}`, and its key in the cart.
    pub slug: &'static str,
    pub name: &'static str,
    pub price_cents: u32,
    pub blurb: &'static str,
    /// Letters and colour of the picture tile (the store ships no images).
    tile: (&'static str, &'static str),
}

pub const PRODUCTS: [Product; 6] = [
    Product {
        slug: "cookie-jar",
        name: "Cookie Jar",
        price_cents: 2400,
        blurb: "Glazed stoneware. Holds about 4 KB of cookies; browsers will not take more.",
        tile: ("CJ", "#c0703a"),
    },
    Product {
        slug: "fortune-cookies",
        name: "Fortune Cookies (12)",
        price_cents: 650,
        blurb: "Each hides a message. Unlike a signed cookie, nobody can read it before you.",
        tile: ("FC", "#d49a1f"),
    },
    Product {
        slug: "brass-key",
        name: "Brass Key",
        price_cents: 900,
        blurb: "Opens exactly one door. Whoever holds it gets in, so keep it to yourself.",
        tile: ("BK", "#8a6d1d"),
    },
    Product {
        slug: "padlock",
        name: "Padlock",
        price_cents: 1400,
        blurb: "Tamper-evident: you will know if anyone fiddled with it. It hides nothing.",
        tile: ("PL", "#4b5a78"),
    },
    Product {
        slug: "hourglass",
        name: "Hourglass",
        price_cents: 1850,
        blurb: "Two weeks of sand: 1,209,600 seconds, the default SESSION_COOKIE_AGE.",
        tile: ("HG", "#3f8f7a"),
    },
    Product {
        slug: "canvas-tote",
        name: "Canvas Tote",
        price_cents: 1200,
        blurb: "Carries your cart from page to page, as the session does.",
        tile: ("CT", "#7b4fa8"),
    },
];

/// The product at `/products/{slug}`.
pub fn find(slug: &str) -> Option<&'static Product> {
    PRODUCTS.iter().find(|product| product.slug == slug)
}

impl Product {
    pub fn url(&self) -> String {
        format!("/products/{}", self.slug)
    }

    /// The picture tile; `class` is extra classes (e.g. `big`).
    fn tile(&self, class: &str) -> String {
        let (letters, colour) = self.tile;
        format!("<div class=\"tile {class}\" style=\"background: {colour}\">{letters}</div>")
    }
}

/// `/`: every product, each with an "Add to cart" button.
pub async fn index(visit: Visit) -> Result<Response, SessionError> {
    let token = visit.csrf_token();
    let cards: String = PRODUCTS
        .iter()
        .map(|product| {
            format!(
                "<div class=\"card\" data-slug=\"{slug}\">
  <a href=\"{url}\">{tile}</a>
  <a href=\"{url}\"><strong>{name}</strong></a>
  <p>{blurb}</p>
  <span class=\"price\">{price}</span>
  {add}
</div>",
                slug = escape(product.slug),
                url = escape(&product.url()),
                tile = product.tile(""),
                name = escape(product.name),
                blurb = escape(product.blurb),
                price = money(product.price_cents),
                add = cart::add_form(product, &token),
            )
        })
        .collect();
    visit.page("Products", &format!("<div class=\"grid\">\n{cards}</div>"))
}

/// `/products/{slug}`: one product.
pub async fn product(visit: Visit, Path(slug): Path<String>) -> Result<Response, SessionError> {
    let Some(product) = find(&slug) else {
        return visit.not_found();
    };
    let token = visit.csrf_token();
    let in_cart = cart::quantity(&visit.session, product)?;
    let in_cart = match in_cart {
        0 => String::new(),
        n => {
            format!("<p>In your cart: <strong>{n}</strong>. <a href=\"/cart\">See the cart</a></p>")
        }
    };
    let main = format!(
        "<div class=\"product\">
  {tile}
  <div>
    <p>{blurb}</p>
    <p class=\"price\">{price}</p>
    {add}
    {in_cart}
    <p><a href=\"/\">← All products</a></p>
  </div>
</div>",
        tile = product.tile("big"),
        blurb = escape(product.blurb),
        price = money(product.price_cents),
        add = cart::add_form(product, &token),
    );
    visit.page(product.name, &main)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_unique_and_url_safe() {
        for (i, product) in PRODUCTS.iter().enumerate() {
            assert!(PRODUCTS[i + 1..].iter().all(|p| p.slug != product.slug));
            assert!(
                product
                    .slug
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-')
            );
            assert_eq!(find(product.slug), Some(product));
        }
        assert!(find("nope").is_none());
    }
}
