//! zlib as Django's `signing.dumps(compress=True)` uses it, with one compressor and
//! decompressor per thread, and decompression bounded against zip bombs.

use std::cell::RefCell;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::SignatureError;

thread_local! {
    /// One zlib compressor and decompressor per thread, reset between uses: creating them
    /// allocates and clears hundreds of kilobytes of tables, far more than a session costs.
    static DEFLATE: RefCell<Compress> = RefCell::new(Compress::new(Compression::new(6), true));
    static INFLATE: RefCell<Decompress> = RefCell::new(Decompress::new(true));
}

/// `zlib.compress(bytes)` at Django's level 6.
#[expect(
    clippy::expect_used,
    reason = "compressing from and into memory has no failure but a bug in flate2"
)]
pub(super) fn zlib(bytes: &[u8]) -> Vec<u8> {
    DEFLATE.with_borrow_mut(|deflate| {
        deflate.reset();
        let mut out = Vec::with_capacity(bytes.len() / 2 + 64);
        loop {
            let consumed = deflate.total_in() as usize;
            let status = deflate
                .compress_vec(
                    bytes.get(consumed..).unwrap_or_default(),
                    &mut out,
                    FlushCompress::Finish,
                )
                .expect("compressing into memory cannot fail");
            if status == Status::StreamEnd {
                return out;
            }
            out.reserve(out.capacity().max(64));
        }
    })
}

/// `zlib.decompress(bytes)`, refusing streams that are invalid or truncated, and those that
/// would grow past `limit` bytes before more than that is decompressed.
pub(super) fn unzlib(bytes: &[u8], limit: u64) -> Result<Vec<u8>, SignatureError> {
    let invalid = || SignatureError::BadPayload("invalid zlib stream");
    // Room for one byte over the limit, so filling it tells a stream that grows past it.
    let most = usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX);
    INFLATE.with_borrow_mut(|inflate| {
        inflate.reset(true);
        let mut out = Vec::with_capacity(bytes.len().saturating_mul(4).min(most));
        loop {
            let consumed = inflate.total_in() as usize;
            let before = (inflate.total_in(), inflate.total_out());
            let status = inflate
                .decompress_vec(
                    bytes.get(consumed..).unwrap_or_default(),
                    &mut out,
                    FlushDecompress::None,
                )
                .map_err(|_| invalid())?;
            if out.len() as u64 > limit {
                return Err(SignatureError::TooLarge { limit });
            }
            if status == Status::StreamEnd {
                return Ok(out);
            }
            let stuck =
                before == (inflate.total_in(), inflate.total_out()) && out.len() < out.capacity();
            // Stuck with room to spare means the input ended (or is not zlib) mid-stream.
            if stuck {
                return Err(invalid());
            }
            out.reserve_exact(out.capacity().max(64).min(most - out.len()));
        }
    })
}
