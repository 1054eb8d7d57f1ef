//! A small allocator for the wasm build: power-of-two size classes with one free list each,
//! fresh blocks bumped from the end of linear memory. A freed block is only ever reused for its
//! own class, so a steady workload (this crate's: short-lived strings and small vectors) keeps
//! memory flat; dlmalloc cost 7 KB of code for generality this crate does not need.
//! Single-threaded, as wasm32-unknown-unknown is.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;

const MIN_SHIFT: u32 = 4; // 16-byte blocks at least
const CLASSES: usize = 28; // up to 2^31 bytes
const PAGE: usize = 65_536;

pub struct SizeClasses {
    free: UnsafeCell<[usize; CLASSES]>,
    top: UnsafeCell<usize>,
    end: UnsafeCell<usize>,
}

// SAFETY: wasm32-unknown-unknown runs this module on one thread.
unsafe impl Sync for SizeClasses {}

impl SizeClasses {
    pub const fn new() -> Self {
        SizeClasses { free: UnsafeCell::new([0; CLASSES]), top: UnsafeCell::new(0), end: UnsafeCell::new(0) }
    }
}

/// The class of a layout: blocks of 2^(class + 4) bytes, aligned to min(block, 4096).
fn class_of(layout: &Layout) -> Option<usize> {
    let size = layout.size().max(layout.align()).max(1 << MIN_SHIFT);
    if layout.align() > 4096 || size > 1 << (CLASSES as u32 + MIN_SHIFT - 1) {
        return None;
    }
    Some((size.next_power_of_two().trailing_zeros() - MIN_SHIFT) as usize)
}

unsafe impl GlobalAlloc for SizeClasses {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = class_of(&layout) else { return core::ptr::null_mut() };
        let free = &mut *self.free.get();
        let head = free[class];
        if head != 0 {
            free[class] = *(head as *const usize);
            return head as *mut u8;
        }
        let block = 1usize << (class as u32 + MIN_SHIFT);
        let (top, end) = (&mut *self.top.get(), &mut *self.end.get());
        if *end == 0 {
            *end = core::arch::wasm32::memory_size(0) * PAGE;
            *top = *end;
        }
        let align = block.min(4096);
        let start = (*top + align - 1) & !(align - 1);
        let Some(new_top) = start.checked_add(block) else { return core::ptr::null_mut() };
        if new_top > *end {
            let pages = (new_top - *end).div_ceil(PAGE);
            if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
                return core::ptr::null_mut();
            }
            *end += pages * PAGE;
        }
        *top = new_top;
        start as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(class) = class_of(&layout) {
            let free = &mut *self.free.get();
            *(ptr as *mut usize) = free[class];
            free[class] = ptr as usize;
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        if class_of(&layout).is_some() && class_of(&layout) == class_of(&new_layout) {
            return ptr; // the block already has room
        }
        let new = self.alloc(new_layout);
        if !new.is_null() {
            core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            self.dealloc(ptr, layout);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: SizeClasses = SizeClasses::new();
