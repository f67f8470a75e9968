//! Heap allocations per request through each in-process stack of `micro`'s `middleware` group
//! (see `in_process`), counted exactly by a global allocator that wraps the system's. Unlike
//! time, the count does not drift with the machine's load, so it shows a change to the hot
//! path even where the timings cannot.
//!
//! Prints one JSON object per stack and handler (`scripts/bench.sh` puts them in
//! docs/BENCHMARKS.md).
//!
//! Run: `cargo bench -p sessionkit-bench --bench allocations`

mod in_process;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::StatusCode;

/// Requests measured per stack and handler, after as many unmeasured ones.
const REQUESTS: u64 = 10_000;

/// The system allocator, counting allocations (a `realloc` counts as one) and bytes asked for.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

impl Counting {
    fn count(size: usize) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(size as u64, Ordering::Relaxed);
    }
}

// SAFETY: every call is passed on unchanged to `System`, which upholds `GlobalAlloc`'s contract.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::count(layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::count(layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::count(new_size);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn main() {
    let runtime = in_process::runtime();
    for stack in in_process::stacks(&runtime) {
        for path in in_process::PATHS {
            for _ in 0..REQUESTS {
                assert_eq!(stack.call(&runtime, path), StatusCode::OK);
            }
            let before = (
                ALLOCATIONS.load(Ordering::Relaxed),
                BYTES.load(Ordering::Relaxed),
            );
            for _ in 0..REQUESTS {
                stack.call(&runtime, path);
            }
            let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before.0;
            let bytes = BYTES.load(Ordering::Relaxed) - before.1;
            println!(
                "{}",
                serde_json::json!({
                    "stack": stack.name,
                    "handler": &path[1..],
                    "allocations_per_request": allocations as f64 / REQUESTS as f64,
                    "bytes_per_request": bytes as f64 / REQUESTS as f64,
                })
            );
        }
    }
}
