//! Returning freed heap memory to the operating system.
//!
//! Loading the window decodes millions of short-lived strings; glibc keeps the freed
//! pages in its arenas, so the resident size stays at the high-water mark long after the
//! load. Asking glibc to trim after each refresh keeps RSS close to what is really used.

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
