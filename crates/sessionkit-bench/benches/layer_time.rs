//! The in-process stacks (`micro`'s `middleware` group) timed in **alternating rounds**: each
//! round runs every stack for one turn of the same number of requests, in an order that moves
//! by one place every round, so a stack's layer time (its time less the router's) is compared
//! with the yardstick's in the same round. criterion times one stack for seconds and then the
//! next, and on this shared VM its timings drift by 10–40 % within minutes (docs/PROFILES.md):
//! enough to turn a ratio of two stacks measured minutes apart into noise. The ratio of each
//! round is what drifts least; the table gives its median and its spread over the rounds.
//!
//! Run: `cargo bench -p sessionkit-bench --bench layer_time` (a few seconds; `-- --json` prints
//! one JSON object per row instead of the table, for `scripts/bench.sh`). Settings:
//!
//!   LAYER_ROUNDS [21]      rounds
//!   LAYER_REQUESTS [4000]  requests per stack and turn
//!   LAYER_STACKS           comma-separated stacks to time (the router and the yardsticks are
//!                          always timed); all by default

mod in_process;

use std::time::Instant;

use axum::http::StatusCode;
use tokio::runtime::Runtime;

/// The stack every layer time is taken over: the router alone.
const ROUTER: &str = "axum_no_session";

/// Requests each stack serves before the first round, so every map and cache it keeps has
/// grown to its size.
const WARM_UP: usize = 2_000;

fn main() {
    let rounds = setting("LAYER_ROUNDS", 21);
    let requests = setting("LAYER_REQUESTS", 4_000);
    let wanted = std::env::var("LAYER_STACKS").ok();
    let json = std::env::args().any(|arg| arg == "--json");
    let runtime = in_process::runtime();
    let stacks: Vec<in_process::Stack> = in_process::stacks(&runtime)
        .into_iter()
        .filter(|stack| {
            stack.name == ROUTER
                || stack.name.starts_with("floor_")
                || wanted
                    .as_deref()
                    .is_none_or(|names| names.split(',').any(|name| name == stack.name))
        })
        .collect();
    if !json {
        println!(
            "{rounds} alternating rounds of {requests} requests per stack and handler \
             (median over the rounds; the spread is the middle half of the rounds' ratios)\n"
        );
        println!(
            "| stack | handler | ns per request | layer ns | layer / yardstick's | middle half |"
        );
        println!("|---|---|---:|---:|---:|---|");
    }
    for path in in_process::PATHS {
        for stack in &stacks {
            for _ in 0..WARM_UP {
                assert_eq!(stack.call(&runtime, path), StatusCode::OK, "{}", stack.name);
            }
        }
        // times[stack][round]: nanoseconds per request.
        let mut times = vec![Vec::with_capacity(rounds); stacks.len()];
        for round in 0..rounds {
            for turn in 0..stacks.len() {
                let index = (turn + round) % stacks.len();
                let time = time_per_request(&stacks[index], &runtime, path, requests);
                times[index].push(time);
            }
        }
        for row in rows(&stacks, &times, path) {
            match json {
                true => println!("{}", row.json(rounds, requests)),
                false => println!("{}", row.markdown()),
            }
        }
    }
}

/// Nanoseconds per request over `requests` requests of `path` through `stack`.
fn time_per_request(
    stack: &in_process::Stack,
    runtime: &Runtime,
    path: &str,
    requests: usize,
) -> f64 {
    let started = Instant::now();
    for _ in 0..requests {
        std::hint::black_box(stack.call(runtime, path));
    }
    started.elapsed().as_nanos() as f64 / requests as f64
}

/// One stack's times on one handler, over all rounds.
struct Row<'a> {
    stack: &'a str,
    handler: &'a str,
    /// Median nanoseconds per request.
    time: f64,
    /// Against the yardstick (none for the router itself): the median layer time, the median
    /// of the rounds' ratios to the yardstick's layer time, and the middle half of them.
    layer: Option<Layer>,
}

struct Layer {
    time: f64,
    ratio: f64,
    middle_half: (f64, f64),
}

impl Row<'_> {
    fn markdown(&self) -> String {
        let Row {
            stack,
            handler,
            time,
            ..
        } = self;
        match &self.layer {
            None => format!("| {stack} | {handler} | {time:.0} | | | |"),
            Some(Layer {
                time: layer,
                ratio,
                middle_half: (low, high),
            }) => format!(
                "| {stack} | {handler} | {time:.0} | {layer:.0} | {ratio:.2}× | {low:.2}–{high:.2}× |"
            ),
        }
    }

    fn json(&self, rounds: usize, requests: usize) -> serde_json::Value {
        serde_json::json!({
            "stack": self.stack,
            "handler": self.handler,
            "ns_per_request": self.time,
            "layer_ns": self.layer.as_ref().map(|l| l.time),
            "ratio_to_yardstick": self.layer.as_ref().map(|l| l.ratio),
            "ratio_middle_half": self.layer.as_ref().map(|l| [l.middle_half.0, l.middle_half.1]),
            "rounds": rounds,
            "requests_per_turn": requests,
        })
    }
}

/// One row per stack: its median time, and its layer against its yardstick's round by round
/// (`floor_minimal_signed_layer` for the cookie engines, `floor_minimal_layer` for the
/// others), as `scripts/in-process-instructions.sh` pairs them.
fn rows<'a>(stacks: &'a [in_process::Stack], times: &[Vec<f64>], path: &'a str) -> Vec<Row<'a>> {
    let of = |name: &str| {
        let index = stacks.iter().position(|stack| stack.name == name);
        &times[index.unwrap_or_else(|| panic!("no stack {name}"))]
    };
    let router = of(ROUTER);
    let layer_times = |name: &str| -> Vec<f64> {
        of(name)
            .iter()
            .zip(router)
            .map(|(time, router)| time - router)
            .collect()
    };
    let layer = |name: &str| {
        let yardstick = match name {
            ROUTER => return None,
            _ if name.contains("signed") || name.contains("encrypted") => {
                "floor_minimal_signed_layer"
            }
            _ => "floor_minimal_layer",
        };
        let own = layer_times(name);
        let ratios: Vec<f64> = own
            .iter()
            .zip(layer_times(yardstick))
            .map(|(own, yardstick)| own / yardstick)
            .collect();
        Some(Layer {
            time: median(&own),
            ratio: median(&ratios),
            middle_half: middle_half(&ratios),
        })
    };
    stacks
        .iter()
        .zip(times)
        .map(|(stack, own)| Row {
            stack: stack.name,
            handler: path.trim_start_matches('/'),
            time: median(own),
            layer: layer(stack.name),
        })
        .collect()
}

fn sorted(values: &[f64]) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
}

fn median(values: &[f64]) -> f64 {
    let sorted = sorted(values);
    sorted[sorted.len() / 2]
}

/// The first and third quartiles.
fn middle_half(values: &[f64]) -> (f64, f64) {
    let sorted = sorted(values);
    (sorted[sorted.len() / 4], sorted[sorted.len() * 3 / 4])
}

fn setting(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {value:?}")),
        Err(_) => default,
    }
}
