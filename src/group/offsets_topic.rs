//! Where a group lives: the `__consumer_offsets` partition whose leader is
//! the group's coordinator, chosen as Kafka's `GroupCoordinator.partitionFor`
//! does: `Utils.abs(groupId.hashCode()) % offsets.topic.num.partitions`.

/// The internal topic holding group metadata and committed offsets.
pub const CONSUMER_OFFSETS: &str = "__consumer_offsets";

/// `offsets.topic.num.partitions` default.
pub const OFFSETS_TOPIC_NUM_PARTITIONS: u32 = 50;

/// `offsets.topic.replication.factor` default (capped by the broker count).
pub const OFFSETS_TOPIC_REPLICATION_FACTOR: u32 = 3;

/// Java's `String.hashCode()` over UTF-16 code units (shared with the
/// assignors, which need it for Java's hash order).
pub fn java_string_hash(s: &str) -> i32 {
    super::java::string_hash(s)
}

/// Kafka's `Utils.abs`: the absolute value, except that `Integer.MIN_VALUE`
/// maps to 0 (where Java's `Math.abs` would stay negative).
pub fn utils_abs(n: i32) -> i32 {
    if n == i32::MIN {
        0
    } else {
        n.abs()
    }
}

/// The `__consumer_offsets` partition of `group` among `partitions`.
pub fn partition_for(group: &str, partitions: u32) -> u32 {
    let partitions = partitions.max(1);
    (utils_abs(java_string_hash(group)) as u32) % partitions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_ids_hash_as_java_strings() {
        // One UTF-16 unit outside ASCII, and a surrogate pair (U+1F600).
        assert_eq!(java_string_hash("\u{e9}"), 233);
        assert_eq!(java_string_hash("\u{1F600}"), 0xD83D * 31 + 0xDE00);
        assert_eq!(java_string_hash("billing"), -109_829_509);
    }

    #[test]
    fn utils_abs_maps_min_value_to_zero() {
        assert_eq!(utils_abs(i32::MIN), 0);
        assert_eq!(utils_abs(-5), 5);
        assert_eq!(utils_abs(7), 7);
    }

    #[test]
    fn partition_for_is_abs_hash_modulo_partitions() {
        assert_eq!(partition_for("polygenelubricants", 50), 0);
        assert_eq!(partition_for("hello", 50), 99_162_322 % 50);
        assert_eq!(partition_for("billing", 50), 109_829_509 % 50);
        assert_eq!(partition_for("anything", 1), 0);
    }
}
