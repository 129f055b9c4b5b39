//! Records: what analysers produce. The host's sinks format them (JSON Lines on stdout, or one
//! file per record kind); analysers never write output themselves.

use abi_stable::std_types::{RCow, RCowStr, RString, RVec};
use abi_stable::StableAbi;

/// A typed value. This enum is frozen: it will not gain variants (nested or new kinds of data
/// travel as `Json`), so plugins and hosts of any 0.1 version agree on it.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub enum Value {
    /// No value.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer (sizes, counts, times in ns).
    UInt(u64),
    /// A float.
    Float(f64),
    /// A string.
    Str(RString),
    /// Raw bytes (written as hex by the JSON sink).
    Bytes(RVec<u8>),
    /// A list of strings.
    StrList(RVec<RString>),
    /// Pre-serialised JSON (objects, nested lists); the JSON sink embeds it verbatim, so it
    /// must be valid JSON.
    Json(RString),
}

/// A named value.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct Field {
    /// Field name: borrowed when it is a literal (no allocation per record), owned otherwise.
    pub name: RCowStr<'static>,
    /// Its value.
    pub value: Value,
}

/// One output record. The host adds the plugin name, the session key and id.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct Record {
    /// Record kind: names the output stream (`http` goes to `http.jsonl` with `--output-dir`).
    pub kind: RString,
    /// Capture time the record refers to, ns.
    pub ts: u64,
    /// Typed fields, in output order.
    pub fields: RVec<Field>,
}

/// Builds the fields of a [`Record`] or an [`crate::Event`].
#[derive(Debug, Default, Clone)]
pub struct Fields(pub RVec<Field>);

impl Fields {
    /// No fields yet.
    pub fn new() -> Fields {
        Fields(RVec::with_capacity(16))
    }

    /// Room for `n` fields without reallocating.
    pub fn with_capacity(n: usize) -> Fields {
        Fields(RVec::with_capacity(n))
    }

    /// Adds a field whose name is a literal (or otherwise lives for the whole run).
    pub fn value(mut self, name: &'static str, value: Value) -> Self {
        self.0.push(Field {
            name: RCow::Borrowed(name.into()),
            value,
        });
        self
    }

    /// Adds a field with a name built at run time.
    pub fn value_named(mut self, name: String, value: Value) -> Self {
        self.0.push(Field {
            name: RCow::Owned(name.into()),
            value,
        });
        self
    }

    /// Adds a string field.
    pub fn str(self, name: &'static str, value: &str) -> Self {
        self.value(name, Value::Str(value.into()))
    }

    /// Adds a string field that takes over `value` (no copy: for strings a record is the last
    /// user of).
    pub fn string(self, name: &'static str, value: String) -> Self {
        self.value(name, Value::Str(value.into()))
    }

    /// [`Fields::string`], or null.
    pub fn opt_string(self, name: &'static str, value: Option<String>) -> Self {
        match value {
            Some(v) => self.string(name, v),
            None => self.value(name, Value::Null),
        }
    }

    /// A list of strings that takes them over (no copy); see [`Fields::strs`] to copy.
    pub fn string_list(self, name: &'static str, values: Vec<String>) -> Self {
        self.value(
            name,
            Value::StrList(values.into_iter().map(RString::from).collect()),
        )
    }

    /// Adds a string field, or null.
    pub fn opt_str(self, name: &'static str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.str(name, v),
            None => self.value(name, Value::Null),
        }
    }

    /// Adds an unsigned integer field.
    pub fn uint(self, name: &'static str, value: u64) -> Self {
        self.value(name, Value::UInt(value))
    }

    /// Adds an unsigned integer field, or null.
    pub fn opt_uint(self, name: &'static str, value: Option<u64>) -> Self {
        self.value(name, value.map_or(Value::Null, Value::UInt))
    }

    /// Adds a signed integer field.
    pub fn int(self, name: &'static str, value: i64) -> Self {
        self.value(name, Value::Int(value))
    }

    /// Adds a float field.
    pub fn float(self, name: &'static str, value: f64) -> Self {
        self.value(name, Value::Float(value))
    }

    /// Adds a boolean field.
    pub fn bool(self, name: &'static str, value: bool) -> Self {
        self.value(name, Value::Bool(value))
    }

    /// Adds a list of strings.
    pub fn strs<S: AsRef<str>>(
        self,
        name: &'static str,
        values: impl IntoIterator<Item = S>,
    ) -> Self {
        let list = values
            .into_iter()
            .map(|s| RString::from(s.as_ref()))
            .collect();
        self.value(name, Value::StrList(list))
    }

    /// Adds pre-serialised JSON.
    pub fn json(self, name: &'static str, json: String) -> Self {
        self.value(name, Value::Json(json.into()))
    }
}

impl Value {
    /// The string, if this is a `Str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The number, if this is a `UInt` (or a non-negative `Int`).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::UInt(n) => Some(*n),
            Value::Int(n) => u64::try_from(*n).ok(),
            _ => None,
        }
    }
}
