//! A log-scale latency histogram: fixed memory, exact merge, quantiles within 1%.
//!
//! Values (nanoseconds) are counted in buckets whose width grows with the value: 64 buckets per
//! power of two, so a bucket spans at most 1/64 ≈ 1.6% of its lower bound and the midpoint
//! reported for a quantile is within 0.8% of any value in it. Min and max are kept exactly.

const SUB_BUCKETS: u64 = 64;

/// Buckets in use beyond which the counts are kept in a dense array.
const SPARSE_MAX: usize = 32;

/// The counts per bucket. A busy server's latencies fill hundreds of buckets, and a search
/// tree (or a sorted list with inserts) then costs cache misses on every value counted; a
/// dense array costs one. Few buckets in use stay a short sorted list, so that a server with
/// a handful of transactions does not pay for a dense array as wide as their spread.
/// Memory per server stays bounded: the dense array spans at most every bucket of a `u64`
/// (3,776 counts, 30 KiB).
#[derive(Debug, Clone)]
enum Buckets {
    /// (bucket, count), sorted by bucket, at most [`SPARSE_MAX`] of them.
    Sparse(Vec<(u32, u64)>),
    /// The counts of buckets `low`, `low + 1`, ... (zero for unused ones).
    Dense { low: u32, counts: Vec<u64> },
}

impl Default for Buckets {
    fn default() -> Self {
        Buckets::Sparse(Vec::new())
    }
}

impl PartialEq for Buckets {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Buckets {}

impl Buckets {
    /// (bucket, count) in bucket order (buckets without values in the dense form skipped).
    fn iter(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        let (sparse, dense) = match self {
            Buckets::Sparse(list) => (Some(list.iter().copied()), None),
            Buckets::Dense { low, counts } => {
                let dense = (*low..).zip(counts.iter().copied()).filter(|&(_, n)| n > 0);
                (None, Some(dense))
            }
        };
        sparse
            .into_iter()
            .flatten()
            .chain(dense.into_iter().flatten())
    }

    /// Replaces the count of `bucket` (0 if absent) by `f` of it.
    fn update(&mut self, bucket: u32, f: impl FnOnce(u64) -> u64) {
        match self {
            Buckets::Sparse(list) => match list.binary_search_by_key(&bucket, |&(b, _)| b) {
                Ok(i) => {
                    if let Some((_, n)) = list.get_mut(i) {
                        *n = f(*n);
                    }
                }
                Err(i) if list.len() < SPARSE_MAX => list.insert(i, (bucket, f(0))),
                Err(_) => {
                    *self = self.to_dense();
                    self.update(bucket, f);
                }
            },
            Buckets::Dense { low, counts } => {
                if bucket < *low {
                    let grow = usize::try_from(*low - bucket).unwrap_or(0);
                    counts.splice(0..0, std::iter::repeat_n(0, grow));
                    *low = bucket;
                }
                let i = usize::try_from(bucket - *low).unwrap_or(usize::MAX);
                if i >= counts.len() {
                    counts.resize(i.saturating_add(1), 0);
                }
                if let Some(n) = counts.get_mut(i) {
                    *n = f(*n);
                }
            }
        }
    }

    /// The same counts in a dense array.
    fn to_dense(&self) -> Buckets {
        let mut dense = Buckets::Dense {
            low: self.iter().next().map_or(0, |(b, _)| b),
            counts: Vec::new(),
        };
        for (b, n) in self.iter() {
            dense.update(b, |_| n);
        }
        dense
    }
}

/// The histogram.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Histogram {
    buckets: Buckets,
    count: u64,
    min: Option<u64>,
    max: Option<u64>,
}

fn bucket_of(v: u64) -> u32 {
    if v < SUB_BUCKETS {
        return v as u32;
    }
    let exp = 63 - v.leading_zeros(); // v in [2^exp, 2^(exp+1))
    let shift = exp - 6; // 64 sub-buckets = 6 bits
    let sub = (v >> shift) - SUB_BUCKETS; // 0..64
    (shift + 1) * SUB_BUCKETS as u32 + sub as u32
}

/// (low, high) bounds of a bucket.
fn bounds(bucket: u32) -> (u64, u64) {
    let b = u64::from(bucket);
    if b < SUB_BUCKETS {
        return (b, b);
    }
    let shift = b / SUB_BUCKETS - 1;
    let sub = b % SUB_BUCKETS;
    let low = (SUB_BUCKETS + sub) << shift;
    let high = low + (1u64 << shift) - 1;
    (low, high)
}

impl Histogram {
    /// Counts one value.
    pub fn record(&mut self, v: u64) {
        self.buckets.update(bucket_of(v), |n| n + 1);
        self.count += 1;
        self.min = Some(self.min.map_or(v, |m| m.min(v)));
        self.max = Some(self.max.map_or(v, |m| m.max(v)));
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, other: &Histogram) {
        for (b, n) in other.buckets.iter() {
            self.buckets.update(b, |m| m + n);
        }
        self.count += other.count;
        self.min = match (self.min, other.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, other.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    /// Smallest value.
    pub fn min(&self) -> Option<u64> {
        self.min
    }

    /// Largest value.
    pub fn max(&self) -> Option<u64> {
        self.max
    }

    /// The `q` quantile (0..=1): the midpoint of the bucket holding it, clamped to min and max.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (b, n) in self.buckets.iter() {
            seen += n;
            if seen >= rank {
                let (low, high) = bounds(b);
                let mid = low + (high - low) / 2;
                return Some(mid.clamp(self.min.unwrap_or(mid), self.max.unwrap_or(mid)));
            }
        }
        self.max
    }

    /// Text form: `count,min,max;bucket:n,bucket:n,...`.
    pub fn serialise(&self) -> String {
        let buckets: Vec<String> = self
            .buckets
            .iter()
            .map(|(b, n)| format!("{b}:{n}"))
            .collect();
        format!(
            "{},{},{};{}",
            self.count,
            self.min.map_or(String::new(), |v| v.to_string()),
            self.max.map_or(String::new(), |v| v.to_string()),
            buckets.join(",")
        )
    }

    /// Parses [`Histogram::serialise`]'s form.
    pub fn deserialise(text: &str) -> Result<Histogram, String> {
        let bad = || format!("bad histogram {text:?}");
        let (head, body) = text.split_once(';').ok_or_else(bad)?;
        let head: Vec<&str> = head.split(',').collect();
        let [count, min, max] = head[..] else {
            return Err(bad());
        };
        let opt = |s: &str| {
            if s.is_empty() {
                Ok(None)
            } else {
                s.parse::<u64>().map(Some).map_err(|_| bad())
            }
        };
        let mut h = Histogram {
            buckets: Buckets::default(),
            count: count.parse().map_err(|_| bad())?,
            min: opt(min)?,
            max: opt(max)?,
        };
        for pair in body.split(',').filter(|p| !p.is_empty()) {
            let (b, n) = pair.split_once(':').ok_or_else(bad)?;
            let (b, n): (u32, u64) = (b.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
            // No value falls in a higher bucket; a larger number would make the dense form
            // allocate that many buckets (or overflow the bounds' shift).
            if b > bucket_of(u64::MAX) {
                return Err(bad());
            }
            h.buckets.update(b, |_| n);
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_within_two_percent() {
        for v in [
            0u64,
            1,
            63,
            64,
            65,
            127,
            128,
            1000,
            123_456_789,
            u64::MAX / 3,
        ] {
            let (low, high) = bounds(bucket_of(v));
            assert!(low <= v && v <= high, "{v}: {low}..{high}");
            assert!((high - low) as f64 <= (low as f64) / 63.0 + 1.0);
        }
    }

    /// A partial state from another instance is input too: a bucket no value can fall in is
    /// refused, not allocated (32 ordinary buckets make the dense form, then 4e9 of them).
    #[test]
    fn a_partial_state_naming_an_impossible_bucket_is_refused() {
        let mut text = String::from("33,1,1;");
        for b in 0..32 {
            text.push_str(&format!("{b}:1,"));
        }
        assert!(Histogram::deserialise(&format!("{text}{}:1", bucket_of(u64::MAX))).is_ok());
        assert!(Histogram::deserialise(&format!("{text}4000000000:1")).is_err());
        assert!(Histogram::deserialise("1,1,1;4160:1").is_err());
    }

    #[test]
    fn quantiles_are_close_and_min_max_exact() {
        let mut h = Histogram::default();
        for v in 1..=10_000u64 {
            h.record(v * 1000);
        }
        assert_eq!(h.min(), Some(1000));
        assert_eq!(h.max(), Some(10_000_000));
        let median = h.quantile(0.5).unwrap() as f64;
        assert!((median / 5_000_000.0 - 1.0).abs() < 0.01, "{median}");
        assert_eq!(Histogram::deserialise(&h.serialise()).unwrap(), h);
    }

    #[test]
    fn dense_and_sparse_counts_agree_whatever_the_order() {
        let values: Vec<u64> = (0..500u64).map(|i| (i * 7_919) % 100_000 * 37).collect();
        let mut up = Histogram::default();
        let mut down = Histogram::default();
        let mut halves = Histogram::default();
        let mut other = Histogram::default();
        for (i, &v) in values.iter().enumerate() {
            up.record(v);
            if i % 10 == 0 {
                other.record(v);
            } else {
                halves.record(v);
            }
        }
        for &v in values.iter().rev() {
            down.record(v);
        }
        halves.merge(&other);
        assert!(matches!(up.buckets, Buckets::Dense { .. }));
        assert!(matches!(other.buckets, Buckets::Dense { .. }));
        assert_eq!(up.serialise(), down.serialise());
        assert_eq!(up.serialise(), halves.serialise());
        assert_eq!(up, down);
        assert_eq!(Histogram::deserialise(&up.serialise()).unwrap(), up);
        let mut few = Histogram::default();
        [5u64, 1_000, 3].iter().for_each(|&v| few.record(v));
        assert!(matches!(few.buckets, Buckets::Sparse(_)));
        assert_eq!(few.serialise(), "3,3,1000;3:1,5:1,317:1");
    }
}
