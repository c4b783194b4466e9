//! The allocator setup that gives memory back after a burst of password hashes.
//!
//! Each argon2id hash allocates one 19 MiB block array and frees it tens of milliseconds later.
//! glibc serves allocations above its mmap threshold with `mmap` and returns them with `munmap`,
//! but by default it raises that threshold to the size of the last freed mmapped chunk (up to
//! 32 MiB): after the first hash every later 19 MiB array comes from a malloc arena, and the
//! arenas (one per thread, up to eight per core) keep the freed memory. A burst of logins then
//! leaves gigabytes resident. [`return_freed_memory`] fixes the threshold at
//! [`MMAP_THRESHOLD_BYTES`], which also turns that adjustment off, so every large block goes
//! back to the kernel when it is freed. The server binary calls it first thing in `main`
//! (docs/BENCHMARKS.md, "Logins under load", measures the effect).

/// The fixed mmap threshold, bytes: glibc's own starting value (128 KiB). Allocations above it
/// (argon2's block arrays, large buffers) are mapped on their own and unmapped when freed.
pub const MMAP_THRESHOLD_BYTES: i32 = 128 * 1024;

/// What [`return_freed_memory`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocatorSetup {
    /// glibc accepted the fixed mmap threshold.
    FixedMmapThreshold,
    /// glibc refused the setting (the allocator then behaves as by default).
    Refused,
    /// Not glibc (e.g. musl, whose allocator already unmaps large blocks): nothing to set.
    NotGlibc,
}

/// Fixes glibc's mmap threshold at [`MMAP_THRESHOLD_BYTES`] (`mallopt(M_MMAP_THRESHOLD)`, see
/// mallopt(3)), so freed large blocks are returned to the kernel instead of kept in an arena.
/// Call it once, before the async runtime starts its threads.
pub fn return_freed_memory() -> AllocatorSetup {
    set_mmap_threshold()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_mmap_threshold() -> AllocatorSetup {
    // SAFETY: mallopt only updates the allocator's tunables (under its own lock); it takes plain
    // integers and touches no memory of ours.
    let accepted = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) };
    if accepted == 1 {
        AllocatorSetup::FixedMmapThreshold
    } else {
        AllocatorSetup::Refused
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_mmap_threshold() -> AllocatorSetup {
    AllocatorSetup::NotGlibc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_accepts_the_threshold() {
        let expected = if cfg!(all(target_os = "linux", target_env = "gnu")) {
            AllocatorSetup::FixedMmapThreshold
        } else {
            AllocatorSetup::NotGlibc
        };
        assert_eq!(return_freed_memory(), expected);
    }
}
