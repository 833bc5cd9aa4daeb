//! The `ksim` binary.

/// A run allocates and frees millions of small records and batches;
/// mimalloc does that much faster than the system allocator. Build with
/// `--features sysalloc` to profile the heap with heaptrack or valgrind.
#[cfg(not(feature = "sysalloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc v3's `mi_option_purge_delay` (the position of that option in
/// `mi_option_e` of the `mimalloc.h` that libmimalloc-sys 0.1.49 builds;
/// the crate exports no constant for it).
#[cfg(not(feature = "sysalloc"))]
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> std::process::ExitCode {
    // A sweep frees a whole run's memory and builds the next run in it; by
    // default mimalloc hands freed pages back to the OS after 10 ms, and the
    // next seed pays a page fault and a zeroed page for each of them again
    // (0.8 s of system time in ten broker_crash seeds). -1: never purge;
    // a sweep's memory stays near its largest run's (ten broker_crash
    // seeds: 160 MiB peak instead of 120 MiB).
    #[cfg(not(feature = "sysalloc"))]
    // SAFETY: called first thing in main, before any other thread exists.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
    }
    ksim::cli::main()
}
