//! The requests `scripts/in-process-instructions.sh` counts the instructions of under valgrind's
//! callgrind: one stack of `in_process` (see `micro`'s `middleware` group), one handler, a
//! number of requests. Only [`measured`] is counted (`--toggle-collect`), so start-up, the
//! logins and the warm-up stay out of the count. Unlike time, the count does not drift with
//! the machine's load: runs of the same binary agree to within about 0.5 % (hash seeds and
//! session keys differ from run to run).
//!
//! Run (what the script does for every stack and handler, which `--stacks` and `--paths`
//! list): `valgrind --tool=callgrind --toggle-collect='instructions::measured' <bench binary>
//! sessionkit_memory /read_write 2000`

mod in_process;

use axum::http::StatusCode;
use tokio::runtime::Runtime;

/// Unmeasured requests first, so every map and cache the stack keeps has grown to its size.
const WARM_UP: usize = 1_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag] if flag == "--stacks" => {
            for stack in in_process::stacks(&in_process::runtime()) {
                println!("{}", stack.name);
            }
        }
        [flag] if flag == "--paths" => {
            for path in in_process::PATHS {
                println!("{path}");
            }
        }
        [stack, path, requests] => {
            let requests = requests.parse().expect("REQUESTS is a number");
            count(stack, path, requests);
        }
        _ => {
            eprintln!(
                "usage: instructions STACK PATH REQUESTS (e.g. sessionkit_memory /read_write \
                 2000), or instructions --stacks | --paths"
            );
            std::process::exit(2);
        }
    }
}

/// Warms `stack` up on `path`, then runs the `requests` callgrind counts.
fn count(stack: &str, path: &str, requests: usize) {
    if !in_process::PATHS.contains(&path) {
        eprintln!(
            "no handler {path}; the handlers: {}",
            in_process::PATHS.join(", ")
        );
        std::process::exit(2);
    }
    let runtime = in_process::runtime();
    let stacks = in_process::stacks(&runtime);
    let Some(stack) = stacks.iter().find(|s| s.name == stack) else {
        let names: Vec<_> = stacks.iter().map(|s| s.name).collect();
        eprintln!("no stack {stack}; the stacks: {}", names.join(", "));
        std::process::exit(2);
    };
    for _ in 0..WARM_UP {
        assert_eq!(stack.call(&runtime, path), StatusCode::OK);
    }
    measured(stack, &runtime, path, requests);
}

/// The requests counted; never inlined, so callgrind can toggle on it by name.
#[inline(never)]
fn measured(stack: &in_process::Stack, runtime: &Runtime, path: &str, requests: usize) {
    for _ in 0..requests {
        std::hint::black_box(stack.call(runtime, path));
    }
}
