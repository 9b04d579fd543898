//! The memory one render of a user's template may hold: a metering allocator for the binary to
//! install, and the per-thread budget each guarded render runs under.
//!
//! Fuel bounds instructions and the output cap bounds what a template writes, but neither sees
//! `{% set s = s ~ s %}`: one instruction that doubles a string, forty of them ask for a
//! terabyte and the process aborts inside the allocator. minijinja has no hook between
//! instructions, so the allocator itself keeps the count: when a guarded render holds more than
//! its budget, the process prints a diagnostic naming the template and exits 2 before the
//! allocation is made. Rendering finishes before anything is written, so no output is left half
//! done.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;

/// Bytes one render of a user's template may hold on its thread beyond what it started with:
/// sixteen times the output cap, where the built-in templates hold well under a megabyte.
pub const MAX_HELD_BYTES: usize = 256 << 20;

thread_local! {
    // Const-initialised and without destructors: the allocator may read and write them, and
    // reading them never allocates.
    /// The current render's budget in bytes; 0 when the thread is not metered.
    static BUDGET: Cell<usize> = const { Cell::new(0) };
    /// Bytes allocated minus bytes freed on this thread since the render began.
    static HELD: Cell<isize> = const { Cell::new(0) };
    /// The message printed when the budget is passed, formatted before the render starts
    /// because nothing may be allocated once it is passed.
    static VERDICT: Cell<(*const u8, usize)> = const { Cell::new((std::ptr::null(), 0)) };
}

/// A global allocator that counts what guarded renders hold, over any other allocator.
pub struct Metered<A>(pub A);

// SAFETY: every call is forwarded to the inner allocator unchanged; the counting around it
// neither allocates nor unwinds (passing the budget ends the process with `_exit`).
unsafe impl<A: GlobalAlloc> GlobalAlloc for Metered<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        charge(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        charge(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { self.0.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        refund(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { self.0.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        match new_size.checked_sub(layout.size()) {
            Some(grown) => charge(grown),
            None => refund(layout.size() - new_size),
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
}

fn charge(bytes: usize) {
    let budget = BUDGET.get();
    if budget == 0 {
        return;
    }
    let held = HELD.get().saturating_add_unsigned(bytes);
    HELD.set(held);
    if held > budget as isize {
        overdrawn();
    }
}

fn refund(bytes: usize) {
    if BUDGET.get() != 0 {
        HELD.set(HELD.get().saturating_sub_unsigned(bytes));
    }
}

/// Prints the verdict and ends the process: unwinding out of an allocator is undefined, and
/// returning null would abort with "memory allocation failed" and no word of which template.
fn overdrawn() -> ! {
    let (mut ptr, mut len) = VERDICT.get();
    while len > 0 {
        // SAFETY: `ptr..ptr+len` lies in the verdict that `metered` keeps alive for as long
        // as the budget is set.
        let written = unsafe { libc::write(libc::STDERR_FILENO, ptr.cast(), len) };
        if written <= 0 {
            break;
        }
        // SAFETY: `written` is at most `len`, so the pointer stays within the verdict.
        ptr = unsafe { ptr.add(written as usize) };
        len -= written as usize;
    }
    // SAFETY: `_exit` ends the process at once; no Rust state is touched after it.
    unsafe { libc::_exit(2) }
}

/// Runs `render` with this thread's allocations metered: past [`MAX_HELD_BYTES`], `verdict` is
/// printed and the process exits 2. Without [`Metered`] installed it only runs `render`.
pub(crate) fn metered<T>(verdict: String, render: impl FnOnce() -> T) -> T {
    struct Restore {
        outer: (usize, isize, (*const u8, usize)),
        _verdict: Box<[u8]>,
    }
    impl Drop for Restore {
        fn drop(&mut self) {
            BUDGET.set(self.outer.0);
            HELD.set(self.outer.1);
            VERDICT.set(self.outer.2);
        }
    }
    let verdict = verdict.into_bytes().into_boxed_slice();
    let outer = (
        BUDGET.replace(MAX_HELD_BYTES),
        HELD.replace(0),
        VERDICT.replace((verdict.as_ptr(), verdict.len())),
    );
    // Dropped after `render`, restoring the budget before the verdict is freed.
    let _restore = Restore {
        outer,
        _verdict: verdict,
    };
    render()
}
