//! Batch compression as Kafka's clients and brokers do it
//! (`org.apache.kafka.common.compress`): the records section of a v2 batch
//! is one compressed stream, its codec in the low three bits of the batch
//! attributes.
//!
//! Each codec writes the stream format Kafka reads, through the real codec
//! libraries:
//! - gzip: a gzip member (`GZIPOutputStream`), deflate at
//!   `compression.gzip.level` (-1: zlib's default, 6);
//! - snappy: snappy-java's stream (`SnappyOutputStream`): the 16-byte
//!   header (`\x82SNAPPY\0`, version 1, compatible version 1), then blocks
//!   of at most 32 KiB, each a big-endian length and a raw snappy block;
//! - lz4: an LZ4 frame as `Lz4BlockOutputStream` writes it: 64 KiB
//!   independent blocks, no block or content checksum, no content size, at
//!   `compression.lz4.level`: the default 9 is LZ4's fast compressor, as
//!   `Lz4BlockOutputStream` takes it (3.8.0), any other level LZ4 HC;
//! - zstd: a zstd frame at `compression.zstd.level` (3).
//!
//! Every codec is deterministic for a given input and level, so runs stay
//! byte-for-byte reproducible.

use std::io::{Read, Write};

/// A batch's codec (Kafka's `CompressionType`), with its attribute id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CompressionType {
    /// Uncompressed (id 0).
    #[default]
    None,
    /// gzip (id 1).
    Gzip,
    /// snappy (id 2).
    Snappy,
    /// lz4 (id 3).
    Lz4,
    /// zstd (id 4).
    Zstd,
}

impl CompressionType {
    /// Every codec, by id.
    pub const ALL: [CompressionType; 5] = [
        CompressionType::None,
        CompressionType::Gzip,
        CompressionType::Snappy,
        CompressionType::Lz4,
        CompressionType::Zstd,
    ];

    /// Its id in a batch's attributes (bits 0-2).
    pub fn id(self) -> i16 {
        match self {
            CompressionType::None => 0,
            CompressionType::Gzip => 1,
            CompressionType::Snappy => 2,
            CompressionType::Lz4 => 3,
            CompressionType::Zstd => 4,
        }
    }

    /// The codec of attribute id `id`, if Kafka has one.
    pub fn from_id(id: i16) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.id() == id)
    }

    /// Kafka's name (`compression.type` values, `compresscodec` in kafka-dump-log).
    pub fn name(self) -> &'static str {
        match self {
            CompressionType::None => "none",
            CompressionType::Gzip => "gzip",
            CompressionType::Snappy => "snappy",
            CompressionType::Lz4 => "lz4",
            CompressionType::Zstd => "zstd",
        }
    }

    /// The codec Kafka names `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The level Kafka uses when none is configured (`compression.gzip.level`
    /// -1, `compression.lz4.level` 9, `compression.zstd.level` 3).
    pub fn default_level(self) -> i32 {
        match self {
            CompressionType::Gzip => GZIP_DEFAULT_LEVEL,
            CompressionType::Lz4 => LZ4_DEFAULT_LEVEL,
            CompressionType::Zstd => ZSTD_DEFAULT_LEVEL,
            CompressionType::None | CompressionType::Snappy => 0,
        }
    }
}

/// `compression.gzip.level`'s default: `Deflater.DEFAULT_COMPRESSION`.
pub const GZIP_DEFAULT_LEVEL: i32 = -1;
/// `compression.lz4.level`'s default.
pub const LZ4_DEFAULT_LEVEL: i32 = 9;
/// `compression.zstd.level`'s default (`ZSTD_CLEVEL_DEFAULT`).
pub const ZSTD_DEFAULT_LEVEL: i32 = 3;

/// snappy-java's stream header: magic, version 1, compatible version 1.
const SNAPPY_HEADER: [u8; 16] = [
    0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1,
];
/// snappy-java's default block size.
const SNAPPY_BLOCK: usize = 32 * 1024;

/// A codec and its level (Kafka's `Compression`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Compression {
    /// The codec.
    pub kind: CompressionType,
    /// Its level (gzip, lz4, zstd; unused otherwise).
    pub level: i32,
}

impl Compression {
    /// No compression.
    pub const NONE: Compression = Compression {
        kind: CompressionType::None,
        level: 0,
    };

    /// `kind` at its default level.
    pub fn of(kind: CompressionType) -> Self {
        Self {
            kind,
            level: kind.default_level(),
        }
    }

    /// Compresses a records section.
    pub fn compress(&self, records: &[u8]) -> Vec<u8> {
        match self.kind {
            CompressionType::None => records.to_vec(),
            CompressionType::Gzip => {
                let level = match self.level {
                    GZIP_DEFAULT_LEVEL => flate2::Compression::default(),
                    l => flate2::Compression::new(l.clamp(0, 9) as u32),
                };
                let mut out = flate2::GzBuilder::new().write(Vec::new(), level);
                out.write_all(records)
                    .expect("writing to a Vec cannot fail");
                out.finish().expect("writing to a Vec cannot fail")
            }
            CompressionType::Snappy => {
                let mut out = SNAPPY_HEADER.to_vec();
                let mut encoder = snap::raw::Encoder::new();
                for block in records.chunks(SNAPPY_BLOCK) {
                    let compressed = encoder
                        .compress_vec(block)
                        .expect("a block of 32 KiB is within snappy's limits");
                    out.extend_from_slice(&(compressed.len() as u32).to_be_bytes());
                    out.extend_from_slice(&compressed);
                }
                out
            }
            CompressionType::Lz4 => {
                let mut encoder = lz4::EncoderBuilder::new()
                    .block_size(lz4::BlockSize::Max64KB)
                    .block_mode(lz4::BlockMode::Independent)
                    .block_checksum(lz4::liblz4::BlockChecksum::NoBlockChecksum)
                    .checksum(lz4::ContentChecksum::NoChecksum)
                    .level(lz4_frame_level(self.level))
                    .build(Vec::new())
                    .expect("an LZ4 frame encoder with valid preferences");
                encoder
                    .write_all(records)
                    .expect("writing to a Vec cannot fail");
                let (out, result) = encoder.finish();
                result.expect("writing to a Vec cannot fail");
                out
            }
            CompressionType::Zstd => zstd::bulk::compress(records, self.level)
                .expect("zstd compresses any input at a valid level"),
        }
    }
}

/// The LZ4 frame level for Kafka's `compression.lz4.level`: Kafka's
/// `Lz4BlockOutputStream` uses the fast compressor at the default level
/// (9) and LZ4 HC at any other (3.8.0; 3.7 and before: always the fast
/// one, and no such config).
fn lz4_frame_level(level: i32) -> u32 {
    if level == LZ4_DEFAULT_LEVEL {
        0
    } else {
        level.max(0) as u32
    }
}

/// The records section a compressed stream of codec `kind` holds; None
/// when the bytes are not a valid stream of that codec (a corrupt batch).
pub fn decompress(kind: CompressionType, bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match kind {
        CompressionType::None => out.extend_from_slice(bytes),
        CompressionType::Gzip => {
            let mut decoder = flate2::read::GzDecoder::new(bytes);
            decoder.read_to_end(&mut out).ok()?;
            // One gzip member and nothing after it.
            if !decoder.into_inner().is_empty() {
                return None;
            }
        }
        CompressionType::Snappy => {
            let mut rest = bytes.strip_prefix(&SNAPPY_HEADER[..])?;
            let mut decoder = snap::raw::Decoder::new();
            while !rest.is_empty() {
                let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
                let block = rest.get(4..4 + len)?;
                out.extend_from_slice(&decoder.decompress_vec(block).ok()?);
                rest = &rest[4 + len..];
            }
        }
        CompressionType::Lz4 => {
            let mut decoder = lz4::Decoder::new(bytes).ok()?;
            decoder.read_to_end(&mut out).ok()?;
            let (rest, result) = decoder.finish();
            result.ok()?;
            if !rest.is_empty() {
                return None;
            }
        }
        CompressionType::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(bytes)
                .ok()?
                .single_frame();
            decoder.read_to_end(&mut out).ok()?;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        (0..5000u32)
            .flat_map(|i| format!("key-{} value-{}", i % 100, i).into_bytes())
            .collect()
    }

    #[test]
    fn every_codec_round_trips_and_compresses_repetitive_records() {
        let records = sample();
        for kind in CompressionType::ALL {
            let c = Compression::of(kind);
            let compressed = c.compress(&records);
            assert_eq!(
                decompress(kind, &compressed).as_deref(),
                Some(&records[..]),
                "{kind:?}"
            );
            if kind != CompressionType::None {
                assert!(
                    compressed.len() < records.len() / 2,
                    "{kind:?}: {}",
                    compressed.len()
                );
            }
            // Deterministic: the same bytes every time.
            assert_eq!(c.compress(&records), compressed, "{kind:?}");
        }
    }

    #[test]
    fn streams_are_in_the_formats_kafka_reads() {
        let records = sample();
        let gzip = Compression::of(CompressionType::Gzip).compress(&records);
        assert_eq!(&gzip[..3], &[0x1f, 0x8b, 8], "a gzip member with deflate");
        let snappy = Compression::of(CompressionType::Snappy).compress(&records);
        assert_eq!(&snappy[..16], &SNAPPY_HEADER, "snappy-java's stream header");
        // Blocks of 32 KiB: the first block's raw snappy length prefix
        // decodes to 32768.
        let first = u32::from_be_bytes(snappy[16..20].try_into().unwrap()) as usize;
        let block = snap::raw::Decoder::new()
            .decompress_vec(&snappy[20..20 + first])
            .unwrap();
        assert_eq!(block.len(), SNAPPY_BLOCK);
        let lz4 = Compression::of(CompressionType::Lz4).compress(&records);
        assert_eq!(&lz4[..4], &0x184D2204u32.to_le_bytes(), "LZ4 frame magic");
        // FLG: version 01, independent blocks, no checksums, no content size;
        // BD: 64 KiB blocks (Lz4BlockOutputStream's defaults).
        assert_eq!((lz4[4], lz4[5]), (0x60, 0x40));
        let zstd = Compression::of(CompressionType::Zstd).compress(&records);
        assert_eq!(&zstd[..4], &0xFD2FB528u32.to_le_bytes(), "zstd frame magic");
    }

    #[test]
    fn garbage_and_trailing_bytes_do_not_decompress() {
        let records = sample();
        for kind in CompressionType::ALL.into_iter().skip(1) {
            assert_eq!(decompress(kind, b"not a stream"), None, "{kind:?}");
            let mut compressed = Compression::of(kind).compress(&records);
            compressed.truncate(compressed.len() / 2);
            assert_eq!(decompress(kind, &compressed), None, "{kind:?} truncated");
        }
    }

    #[test]
    fn levels_change_the_output() {
        let records = sample();
        for (kind, low, high) in [
            (CompressionType::Gzip, 1, 9),
            (CompressionType::Lz4, 1, 17),
            (CompressionType::Zstd, 1, 19),
        ] {
            let fast = Compression { kind, level: low }.compress(&records);
            let best = Compression { kind, level: high }.compress(&records);
            assert!(
                best.len() <= fast.len(),
                "{kind:?}: {} > {}",
                best.len(),
                fast.len()
            );
            assert_eq!(decompress(kind, &best).as_deref(), Some(&records[..]));
        }
    }

    #[test]
    fn lz4_at_kafkas_default_level_is_the_fast_compressor() {
        assert_eq!(lz4_frame_level(LZ4_DEFAULT_LEVEL), 0, "fast");
        assert_eq!(lz4_frame_level(12), 12, "LZ4 HC");
        let records = sample();
        let fast = Compression::of(CompressionType::Lz4).compress(&records);
        let hc = Compression {
            kind: CompressionType::Lz4,
            level: 12,
        }
        .compress(&records);
        assert_ne!(fast, hc, "the default is not LZ4 HC");
        assert_eq!(
            decompress(CompressionType::Lz4, &fast).as_deref(),
            Some(&records[..])
        );
    }
}
