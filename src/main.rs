//! The `ksim` binary.

/// A run allocates and frees millions of small records and batches;
/// mimalloc does that much faster than the system allocator. Build with
/// `--features sysalloc` to profile the heap with heaptrack or valgrind.
#[cfg(not(feature = "sysalloc"))]
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// mimalloc, asked for alignment only when a type needs more than every
/// block has. (The `mimalloc` crate calls `mi_malloc_aligned` for every
/// allocation, whose fast path misses for blocks above 1 KiB or not a
/// power of two in size: those were over-allocated and cost a fifth of all
/// allocation time.)
#[cfg(not(feature = "sysalloc"))]
struct MiMalloc;

/// The alignment of every mimalloc block of at least this many bytes
/// (`MI_MAX_ALIGN_SIZE`); a smaller block is aligned to its size.
#[cfg(not(feature = "sysalloc"))]
const MI_MAX_ALIGN_SIZE: usize = 16;

#[cfg(not(feature = "sysalloc"))]
impl MiMalloc {
    /// Whether a plain block of `size` bytes has alignment `align`.
    #[inline]
    fn plain(size: usize, align: usize) -> bool {
        align <= MI_MAX_ALIGN_SIZE && align <= size
    }
}

// SAFETY: each method hands the layout to the mimalloc call that honours
// it: the plain calls only when `plain` says their blocks are aligned
// enough, the aligned calls otherwise; `mi_free` frees both kinds.
#[cfg(not(feature = "sysalloc"))]
unsafe impl std::alloc::GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        use libmimalloc_sys::{mi_malloc, mi_malloc_aligned};
        // SAFETY: plain or aligned allocation as the layout needs.
        unsafe {
            if Self::plain(layout.size(), layout.align()) {
                mi_malloc(layout.size()).cast()
            } else {
                mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        use libmimalloc_sys::{mi_zalloc, mi_zalloc_aligned};
        // SAFETY: as in alloc.
        unsafe {
            if Self::plain(layout.size(), layout.align()) {
                mi_zalloc(layout.size()).cast()
            } else {
                mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: std::alloc::Layout) {
        // SAFETY: ptr came from this allocator.
        unsafe { libmimalloc_sys::mi_free(ptr.cast()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        use libmimalloc_sys::{mi_realloc, mi_realloc_aligned};
        // SAFETY: ptr came from this allocator; the new block keeps the
        // layout's alignment.
        unsafe {
            if Self::plain(new_size, layout.align()) {
                mi_realloc(ptr.cast(), new_size).cast()
            } else {
                mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
            }
        }
    }
}

/// mimalloc v2's `mi_option_purge_delay` (the position of that option in
/// `mi_option_e` of the v2 `mimalloc.h` that libmimalloc-sys 0.1.49 builds;
/// the crate exports no constant for it).
#[cfg(not(feature = "sysalloc"))]
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> std::process::ExitCode {
    // A sweep frees a whole run's memory and builds the next run in it; by
    // default mimalloc hands freed pages back to the OS after 10 ms, and the
    // next seed pays a page fault and a zeroed page for each of them again
    // (0.8 s of system time in ten broker_crash seeds). -1: never purge;
    // a sweep's memory stays near its largest run's (ten broker_crash
    // seeds: 160 MiB peak instead of 120 MiB). A command that runs one
    // seed hands freed pages back at once (0): a long run frees much as it
    // goes (segments retention deleted, fetches answered), and its peak
    // then follows what it holds, not when the 10 ms passed in wall-clock
    // time (bench_throughput with 600 s and retention, seed 1: 1.97 GB
    // instead of 2.01-2.03 GB; bench_throughput's CPU time is the same).
    #[cfg(not(feature = "sysalloc"))]
    {
        let delay = if runs_many_seeds(std::env::args().nth(1).as_deref()) {
            -1
        } else {
            0
        };
        // SAFETY: called first thing in main, before any other thread exists.
        unsafe {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, delay);
        }
    }
    ksim::cli::main()
}

/// Whether the command `ksim <command>` runs seed after seed in one process.
#[cfg(not(feature = "sysalloc"))]
fn runs_many_seeds(command: Option<&str>) -> bool {
    matches!(command, Some("explore" | "shrink" | "blame" | "guarantees"))
}
