//! The products: a fixed list that the catalogue's pages show and the cart refers to by slug.

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
    pub fn tile(&self, class: &str) -> String {
        let (letters, colour) = self.tile;
        format!("<div class=\"tile {class}\" style=\"background: {colour}\">{letters}</div>")
    }
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
