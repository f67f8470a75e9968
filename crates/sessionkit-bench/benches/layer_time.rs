//! The in-process stacks (`micro`'s `middleware` group) timed in **alternating rounds**: each
//! round runs every stack for one turn of the same number of requests, in an order that moves
//! by one place every round, so a stack's layer time (its time less the router's) is compared
//! with the yardstick's in the same round. criterion times one stack for seconds and then the
//! next, and on this shared VM its timings drift by 10–40 % within minutes (docs/PROFILES.md):
//! enough to turn a ratio of two stacks measured minutes apart into noise. The ratio of each
//! round is what drifts least; the table gives its median and its spread over the rounds.
//!
//! Run: `cargo bench -p sessionkit-bench --bench layer_time` (about a minute). Settings:
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
    println!(
        "{rounds} alternating rounds of {requests} requests per stack and handler \
         (median over the rounds; the spread is the middle half of the rounds' ratios)\n"
    );
    println!("| stack | handler | ns per request | layer ns | layer / yardstick's | middle half |");
    println!("|---|---|---:|---:|---:|---|");
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
        report(&stacks, &times, path);
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

/// One table row per stack: its median time, its layer's, and its layer over its yardstick's
/// in each round (`floor_minimal_signed_layer` for the cookie engines, `floor_minimal_layer`
/// for the others), as `scripts/in-process-instructions.sh` pairs them.
fn report(stacks: &[in_process::Stack], times: &[Vec<f64>], path: &str) {
    let of = |name: &str| {
        let index = stacks.iter().position(|stack| stack.name == name);
        &times[index.unwrap_or_else(|| panic!("no stack {name}"))]
    };
    let router = of(ROUTER);
    let layer = |name: &str| -> Vec<f64> {
        of(name)
            .iter()
            .zip(router)
            .map(|(time, router)| time - router)
            .collect()
    };
    for (stack, own) in stacks.iter().zip(times) {
        let handler = path.trim_start_matches('/');
        if stack.name == ROUTER {
            println!("| {} | {handler} | {:.0} | | | |", stack.name, median(own));
            continue;
        }
        let yardstick = match stack.name {
            name if name.contains("signed") || name.contains("encrypted") => {
                "floor_minimal_signed_layer"
            }
            _ => "floor_minimal_layer",
        };
        let ratios: Vec<f64> = layer(stack.name)
            .iter()
            .zip(layer(yardstick))
            .map(|(own, yardstick)| own / yardstick)
            .collect();
        let (low, high) = middle_half(&ratios);
        println!(
            "| {} | {handler} | {:.0} | {:.0} | {:.2}× | {low:.2}–{high:.2}× |",
            stack.name,
            median(own),
            median(&layer(stack.name)),
            median(&ratios),
        );
    }
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
