//! `Buf`: a blob's shared buffer, its bytes behind a one-word pointer.
//!
//! One allocation holds a reference count and the length, then the bytes.
//! The count is a plain integer, not an atomic one: a run is one thread, and
//! its blobs never leave it (`Buf` is neither `Send` nor `Sync`), so a clone
//! and a drop are an add and a subtract where an `Arc` takes a locked
//! instruction each, and a run clones and drops blobs at every disk write,
//! slice and read.

use std::alloc::{self, Layout};
use std::cell::Cell;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ops::Deref;
use std::ptr::NonNull;

/// What precedes the bytes in a buffer's allocation.
#[repr(C)]
struct Header {
    /// How many `Buf`s share the allocation.
    count: Cell<usize>,
    /// How many bytes follow the header, and [`VOUCHED`].
    len: Cell<usize>,
}

/// The bit of [`Header::len`] set when the buffer's maker vouched for its
/// bytes (see [`Buf::vouched`]); a buffer holds fewer than 2^63 bytes.
const VOUCHED: usize = 1 << (usize::BITS - 1);

impl Header {
    fn byte_len(&self) -> usize {
        self.len.get() & !VOUCHED
    }
}

/// Shared immutable bytes, counted by reference on one thread.
pub(super) struct Buf {
    header: NonNull<Header>,
    /// A `Buf` owns a share of its allocation, and is not `Send` or `Sync`.
    _owns: PhantomData<*const Header>,
}

impl Buf {
    /// The layout of a buffer of `len` bytes.
    fn layout(len: usize) -> Layout {
        let (layout, _) = Layout::new::<Header>()
            .extend(Layout::array::<u8>(len).expect("a buffer fits in memory"))
            .expect("a buffer fits in memory");
        layout.pad_to_align()
    }

    /// A buffer of `len` bytes, all written by `fill`.
    ///
    /// `fill` must write every byte of the slice it is given.
    fn filled(len: usize, fill: impl FnOnce(&mut [MaybeUninit<u8>])) -> Self {
        let layout = Self::layout(len);
        // SAFETY: the layout is never zero-sized (it holds the header).
        let raw = unsafe { alloc::alloc(layout) }.cast::<Header>();
        let Some(header) = NonNull::new(raw) else {
            alloc::handle_alloc_error(layout)
        };
        // SAFETY: the allocation is `layout`, large and aligned enough for a
        // header then `len` bytes; the bytes start right after the header
        // (a `Header` is 16 bytes, and bytes need no alignment).
        unsafe {
            header.as_ptr().write(Header {
                count: Cell::new(1),
                len: Cell::new(len),
            });
            let bytes = header.as_ptr().add(1).cast::<MaybeUninit<u8>>();
            fill(std::slice::from_raw_parts_mut(bytes, len));
        }
        Self {
            header,
            _owns: PhantomData,
        }
    }

    /// A copy of `bytes`.
    pub(super) fn copy_of(bytes: &[u8]) -> Self {
        Self::filled(bytes.len(), |out| {
            out.write_copy_of_slice(bytes);
        })
    }

    /// `a` then `b` in one new buffer, each copied once.
    pub(super) fn concat(a: &[u8], b: &[u8]) -> Self {
        Self::filled(a.len() + b.len(), |out| {
            out[..a.len()].write_copy_of_slice(a);
            out[a.len()..].write_copy_of_slice(b);
        })
    }

    /// Marks the buffer as vouched for by its maker: its bytes are what
    /// the maker's own check of them would accept. Only its sole owner
    /// may mark it, at its making (its bytes never change after).
    pub(super) fn vouch(&mut self) {
        let header = self.header();
        assert_eq!(header.count.get(), 1, "only a new buffer is vouched for");
        header.len.set(header.len.get() | VOUCHED);
    }

    /// Whether its maker vouched for it ([`Buf::vouch`]).
    pub(super) fn vouched(&self) -> bool {
        self.header().len.get() & VOUCHED != 0
    }

    /// Whether the two are one buffer.
    pub(super) fn same(&self, other: &Buf) -> bool {
        self.header == other.header
    }

    fn header(&self) -> &Header {
        // SAFETY: the allocation lives while any `Buf` of it does.
        unsafe { self.header.as_ref() }
    }
}

impl Clone for Buf {
    #[inline]
    fn clone(&self) -> Self {
        let count = &self.header().count;
        count.set(count.get() + 1);
        Self {
            header: self.header,
            _owns: PhantomData,
        }
    }
}

impl Drop for Buf {
    #[inline]
    fn drop(&mut self) {
        let header = self.header();
        let count = header.count.get() - 1;
        if count > 0 {
            header.count.set(count);
            return;
        }
        let layout = Self::layout(header.byte_len());
        // SAFETY: this was the allocation's last `Buf`, and it was made
        // with this layout; the header and the bytes need no drop.
        unsafe { alloc::dealloc(self.header.as_ptr().cast(), layout) }
    }
}

impl Deref for Buf {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        let len = self.header().byte_len();
        // SAFETY: `filled` wrote all `len` bytes after the header, and
        // nothing writes them again.
        unsafe { std::slice::from_raw_parts(self.header.as_ptr().add(1).cast::<u8>(), len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_holds_its_bytes_and_is_freed_with_its_last_share() {
        let a = Buf::copy_of(b"hello");
        let b = a.clone();
        assert_eq!(&*a, b"hello");
        assert!(a.same(&b));
        assert_eq!(a.header().count.get(), 2);
        drop(a);
        assert_eq!(b.header().count.get(), 1);
        assert_eq!(&*b, b"hello");
        let c = Buf::concat(b"ab", b"cde");
        assert_eq!(&*c, b"abcde");
        assert!(!c.same(&b));
        let empty = Buf::copy_of(&[]);
        assert!(empty.is_empty());
    }
}
