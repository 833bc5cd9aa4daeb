//! The `ksim` binary.

/// A run allocates and frees millions of small records and batches;
/// mimalloc does that much faster than the system allocator. Build with
/// `--features sysalloc` to profile the heap with heaptrack or valgrind.
#[cfg(not(feature = "sysalloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    ksim::cli::main()
}
