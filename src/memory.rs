//! Returning freed heap memory to the operating system.
//!
//! Loading the window decodes millions of short-lived strings; glibc keeps the freed
//! pages in its arenas, so the resident size stays at the high-water mark long after the
//! load. Asking glibc to trim after each refresh keeps RSS close to what is really used.

/// Use at most two glibc malloc arenas and a fixed mmap threshold. Each thread that allocates otherwise gets an
/// arena of its own (up to 8 per core), and every arena keeps its own freed pages, so
/// big decodes on several runtime threads leave several high-water marks behind.
/// Call once, first thing in `main`, before other threads start; a no-op elsewhere.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const M_ARENA_MAX: i32 = -8;
        const M_MMAP_THRESHOLD: i32 = -3;
        extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        // SAFETY: mallopt only changes glibc's allocator parameters; called before any
        // other thread exists, as glibc requires for M_ARENA_MAX to take full effect.
        unsafe {
            mallopt(M_ARENA_MAX, 2);
            // A fixed, low threshold: buffers of 16 KiB and more (Tautulli pages,
            // renderings, per-user finding vectors) always get their own mapping and go
            // back to the OS when freed, instead of glibc raising the threshold and keeping
            // them in the heap.
            mallopt(M_MMAP_THRESHOLD, 16 * 1024);
        }
    }
}

/// Give freed heap pages back to the OS (glibc `malloc_trim`); a no-op elsewhere.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: malloc_trim only walks glibc's own heap structures under its own locks;
        // it has no preconditions and is safe to call from any thread at any time.
        unsafe {
            malloc_trim(0);
        }
    }
}
