//! Conversions between Python objects and JSON values, seconds and durations, and the routing
//! options of one request.

use std::collections::BTreeMap;
use std::time::Duration;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

use crate::errors::{config_error, to_py_err};

/// Python → JSON. Dicts, lists, tuples, strings, numbers, booleans and None map directly;
/// objects with `to_dict()` (turnout's answers) or `model_dump()` (pydantic, openai's types)
/// are converted through it. openai's `NOT_GIVEN` / `omit` markers in a dict are left out.
pub fn to_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    value_at(obj, 0)
}

/// How deeply a value sent as JSON may nest (serde_json's own limit when it parses): a list
/// that contains itself would otherwise recurse until the stack overflows.
const MAX_DEPTH: usize = 128;

/// `to_value` of an object found `depth` levels down.
fn value_at(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(PyTypeError::new_err(format!(
            "a value sent as JSON nests deeper than {MAX_DEPTH} levels (does a list or dict contain itself?)"
        )));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_str()?.to_owned()));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut map = Map::with_capacity(d.len());
        for (k, v) in d.iter() {
            if is_omitted(&v) {
                continue;
            }
            let key = match k.cast::<PyString>() {
                Ok(s) => s.to_str()?.to_owned(),
                Err(_) => k.str()?.to_str()?.to_owned(),
            };
            map.insert(key, value_at(&v, depth + 1)?);
        }
        return Ok(Value::Object(map));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l
            .iter()
            .map(|v| value_at(&v, depth + 1))
            .collect::<PyResult<_>>()
            .map(Value::Array);
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.cast::<PyInt>().is_ok() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::Number(i.into()));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::Number(u.into()));
        }
        return Err(PyValueError::new_err("integer too large for JSON"));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        let f = f.value();
        return Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| PyValueError::new_err(format!("{f} cannot be sent as JSON")));
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t
            .iter()
            .map(|v| value_at(&v, depth + 1))
            .collect::<PyResult<_>>()
            .map(Value::Array);
    }
    if let Ok(to_dict) = obj.getattr("to_dict") {
        return value_at(&to_dict.call0()?, depth + 1);
    }
    if let Ok(dump) = obj.getattr("model_dump") {
        let kwargs = PyDict::new(obj.py());
        kwargs.set_item("mode", "json")?;
        kwargs.set_item("exclude_unset", true)?;
        return value_at(&dump.call((), Some(&kwargs))?, depth + 1);
    }
    Err(PyTypeError::new_err(format!(
        "a {} cannot be sent as JSON",
        obj.get_type().name()?
    )))
}

/// openai-python's "not given" markers (`NOT_GIVEN`, `omit`), left out of request bodies so
/// that code written for the official client works unchanged.
fn is_omitted(v: &Bound<'_, PyAny>) -> bool {
    if v.is_none()
        || v.cast::<PyString>().is_ok()
        || v.cast::<PyDict>().is_ok()
        || v.cast::<PyList>().is_ok()
    {
        return false;
    }
    v.get_type()
        .name()
        .map(|n| n == "NotGiven" || n == "Omit")
        .unwrap_or(false)
}

/// JSON → Python: dicts, lists, str, int, float, bool, None.
pub fn to_py(py: Python<'_>, value: &Value) -> PyResult<Py<PyAny>> {
    Ok(match value {
        Value::Null => py.None(),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any().unbind(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any().unbind()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any().unbind()
            } else {
                n.as_f64()
                    .unwrap_or(f64::NAN)
                    .into_pyobject(py)?
                    .into_any()
                    .unbind()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any().unbind(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any().unbind()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, to_py(py, v)?)?;
            }
            dict.into_any().unbind()
        }
    })
}

/// Python's `json.loads`.
static JSON_LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// JSON text → Python (dicts, lists, str, int, float, bool, None), decoded by Python's own
/// `json.loads` on the calling thread: an answer crosses from the runtime as one string, not
/// as a tree of values built on one thread and freed on another.
pub fn text_to_py(py: Python<'_>, text: &str) -> PyResult<Py<PyAny>> {
    let loads = JSON_LOADS.get_or_try_init(py, || {
        PyResult::Ok(py.import("json")?.getattr("loads")?.unbind())
    })?;
    Ok(loads.bind(py).call1((PyString::new(py, text),))?.unbind())
}

/// A request body as the JSON text sent upstream, encoded on the calling thread, so that the
/// value's allocations are made and freed there and only the text crosses to the runtime.
pub fn to_text(value: &Value) -> PyResult<bytes::Bytes> {
    serde_json::to_vec(value)
        .map(bytes::Bytes::from)
        .map_err(|e| PyValueError::new_err(format!("the body cannot be encoded as JSON: {e}")))
}

/// Any serialisable core value → Python, through JSON.
pub fn serde_to_py<T: serde::Serialize>(py: Python<'_>, value: &T) -> PyResult<Py<PyAny>> {
    let json = serde_json::to_value(value)
        .map_err(|e| PyValueError::new_err(format!("cannot convert a turnout value: {e}")))?;
    to_py(py, &json)
}

/// A traffic state → a dict with the weight in percent (`canary_weight`, as `status()` has
/// it) beside the basis points.
pub fn traffic(py: Python<'_>, state: &turnout::routing::TrafficState) -> PyResult<Py<PyAny>> {
    let mut json = serde_json::to_value(state)
        .map_err(|e| PyValueError::new_err(format!("cannot convert a turnout value: {e}")))?;
    if let Value::Object(map) = &mut json {
        map.insert("canary_weight".into(), state.canary_weight().into());
    }
    to_py(py, &json)
}

/// Seconds (a float) → a duration; `name` is the argument, for the message.
pub fn seconds(name: &str, secs: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(secs).map_err(|_| {
        config_error(format!(
            "{name} must be a finite, non-negative number of seconds, got {secs}"
        ))
    })
}

/// `"blue"` / `"green"` → a side.
pub fn side(py: Python<'_>, name: &str) -> PyResult<turnout::Side> {
    name.parse().map_err(|e| to_py_err(py, e))
}

/// The routing options of one request, as Python passes them.
pub fn options(
    py: Python<'_>,
    routing_key: Option<&Bound<'_, PyAny>>,
    environment: Option<&str>,
    metadata: Option<&Bound<'_, PyDict>>,
    timeout: Option<f64>,
) -> PyResult<turnout::RequestOptions> {
    let mut options = turnout::RequestOptions {
        routing_key: routing_key.map(text).transpose()?,
        ..Default::default()
    };
    if let Some(env) = environment {
        options.environment = Some(side(py, env)?);
    }
    if let Some(md) = metadata {
        let mut map = BTreeMap::new();
        for (k, v) in md.iter() {
            let key = k.str()?.to_str()?.to_owned();
            map.insert(key, text(&v)?);
        }
        options.metadata = Some(map);
    }
    if let Some(t) = timeout {
        options.timeout = Some(seconds("timeout", t)?);
    }
    Ok(options)
}

/// A string, or any other value as `str()` writes it (user ids are often ints).
fn text(v: &Bound<'_, PyAny>) -> PyResult<String> {
    match v.cast::<PyString>() {
        Ok(s) => Ok(s.to_str()?.to_owned()),
        Err(_) => Ok(v.str()?.to_str()?.to_owned()),
    }
}

/// An HTTP method name → a method.
pub fn method(name: &str) -> PyResult<turnout::Method> {
    turnout::Method::from_bytes(name.to_ascii_uppercase().as_bytes())
        .map_err(|_| PyValueError::new_err(format!("{name:?} is not an HTTP method")))
}

/// A string as Python's `repr` writes it (single quotes), for the `__repr__`s.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quote_writes_python_reprs() {
        assert_eq!(quote("blue"), "'blue'");
        assert_eq!(quote("it's"), r"'it\'s'");
        assert_eq!(quote("a\\b\nc"), r"'a\\b\nc'");
    }
}
