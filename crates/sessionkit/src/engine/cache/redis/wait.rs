//! `SESSION_REDIS_WAIT_REPLICAS=N`: a write is answered only once N replicas have it. Redis
//! replicates asynchronously, so without this a master that dies right after acknowledging a
//! save can take the save with it when a replica is promoted. `WAIT` closes that window at the
//! price of a replica round trip per write.
//!
//! The `WAIT` goes in one pipeline with the write: on the same connection (`WAIT` counts the
//! writes of its own connection) and, on a cluster, to the same master (the pipeline is routed
//! by the write's key). A shortfall is an error, so the request gets a 503 instead of a success
//! a failover could undo; the write itself may still have reached the master.

use std::time::Duration;

use redis::Pipeline;

use crate::engine::EngineError;

/// How many replicas a write waits for, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WaitReplicas {
    replicas: u32,
    timeout: Duration,
}

impl WaitReplicas {
    /// Waits for `replicas` (none if 0) for half of `store_timeout`, so the answer to `WAIT`
    /// arrives before the client gives up on the pipeline.
    pub(crate) fn new(replicas: u32, store_timeout: Duration) -> Option<WaitReplicas> {
        (replicas > 0).then(|| WaitReplicas {
            replicas,
            timeout: store_timeout / 2,
        })
    }

    /// Appends `WAIT N milliseconds` to `pipeline`.
    pub(crate) fn append_to(&self, pipeline: &mut Pipeline) {
        pipeline
            .cmd("WAIT")
            .arg(self.replicas)
            .arg(self.timeout.as_millis().max(1) as u64);
    }

    /// An error unless `reached` (what `WAIT` answered) is enough.
    pub(crate) fn check(&self, reached: u32) -> Result<(), EngineError> {
        if reached >= self.replicas {
            return Ok(());
        }
        Err(EngineError::unavailable(TooFewReplicas {
            wanted: self.replicas,
            reached,
            timeout: self.timeout,
        }))
    }
}

/// `WAIT` came back with fewer replicas than `SESSION_REDIS_WAIT_REPLICAS` asks for.
#[derive(Debug, thiserror::Error)]
#[error(
    "the write reached {reached} of the {wanted} replicas SESSION_REDIS_WAIT_REPLICAS asks for \
     within {timeout:?}; it is not acknowledged"
)]
struct TooFewReplicas {
    wanted: u32,
    reached: u32,
    timeout: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_replicas_is_off() {
        assert_eq!(WaitReplicas::new(0, Duration::from_secs(5)), None);
    }

    #[test]
    fn a_shortfall_is_an_error() {
        let wait = WaitReplicas::new(2, Duration::from_secs(5)).unwrap();
        assert!(wait.check(2).is_ok());
        assert!(wait.check(3).is_ok());
        let error = wait.check(1).unwrap_err().to_string();
        assert!(error.contains("reached 1 of the 2 replicas"), "{error}");
    }
}
