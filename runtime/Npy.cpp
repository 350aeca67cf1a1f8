//===- Npy.cpp - NumPy .npy files in and out ------------------------------===//
#include "runtime/Npy.h"

#include "runtime/AtomicFile.h"
#include "runtime/Data.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

namespace ra::rt {

namespace {

/// The value of `key` in the header dict: the text after "'key':" up to
/// the next top-level ',' or '}' (a tuple's commas are inside parentheses).
bool headerValue(const std::string &header, const std::string &key, std::string &value) {
  size_t at = header.find("'" + key + "'");
  if (at == std::string::npos)
    return false;
  at = header.find(':', at);
  if (at == std::string::npos)
    return false;
  int depth = 0;
  size_t end = at + 1;
  for (; end < header.size(); ++end) {
    char c = header[end];
    if (c == '(')
      ++depth;
    else if (c == ')')
      --depth;
    else if ((c == ',' || c == '}') && depth == 0)
      break;
  }
  value = header.substr(at + 1, end - at - 1);
  size_t first = value.find_first_not_of(" "), last = value.find_last_not_of(" ");
  value = first == std::string::npos ? "" : value.substr(first, last - first + 1);
  return true;
}

double halfValue(uint16_t h) {
  int exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
  double v = exponent == 0    ? std::ldexp(mantissa, -24)
             : exponent == 31 ? (mantissa ? std::numeric_limits<double>::quiet_NaN()
                                          : std::numeric_limits<double>::infinity())
                              : std::ldexp(mantissa | 0x400, exponent - 25);
  return h & 0x8000 ? -v : v;
}

} // namespace

std::string readNpy(const std::string &path, NpyArray &out) {
  std::string bytes, error;
  if (!readFile(path, bytes, error))
    return error;
  auto bad = [&](const std::string &why) { return "'" + path + "' is not a .npy array: " + why; };
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
    return bad("no NumPy magic");
  int major = uint8_t(bytes[6]);
  size_t headerBytes, at;
  if (major == 1) {
    headerBytes = uint8_t(bytes[8]) | size_t(uint8_t(bytes[9])) << 8;
    at = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      return bad("truncated header");
    headerBytes = 0;
    for (int i = 3; i >= 0; --i)
      headerBytes = headerBytes << 8 | uint8_t(bytes[8 + i]);
    at = 12;
  } else {
    return bad("format version " + std::to_string(major));
  }
  if (headerBytes > bytes.size() - at)
    return bad("truncated header");
  std::string header = bytes.substr(at, headerBytes);
  at += headerBytes;

  std::string descr, order, shape;
  if (!headerValue(header, "descr", descr) || !headerValue(header, "fortran_order", order) ||
      !headerValue(header, "shape", shape))
    return bad("the header lacks descr, fortran_order or shape");
  if (order != "False")
    return bad("Fortran order (save it C-contiguous)");
  if (descr.size() < 4 || (descr.front() != '\'' && descr.front() != '"') ||
      descr.back() != descr.front())
    return bad("descr " + descr);
  descr = descr.substr(1, descr.size() - 2);
  out.descr = descr;
  char endian = descr[0], kind = descr[1];
  int size = std::atoi(descr.c_str() + 2);
  bool known =
      (endian == '<' || endian == '|' || endian == '=') && // '=': native, little here
      (((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) ||
       (kind == 'f' && (size == 2 || size == 4 || size == 8)) || (kind == 'b' && size == 1)) &&
      descr.size() == 3;
  if (!known)
    return bad("dtype '" + descr + "' (little-endian ints, floats and bools are read)");
  out.integer = kind != 'f';

  // shape: "(2, 3)", "(5,)" or "()".
  if (shape.size() < 2 || shape.front() != '(' || shape.back() != ')')
    return bad("shape " + shape);
  out.shape.clear();
  uint64_t elements = 1, limit = (bytes.size() - at) / size;
  std::string inner = shape.substr(1, shape.size() - 2);
  size_t pos = 0;
  while (pos < inner.size()) {
    size_t comma = inner.find(',', pos);
    std::string item =
        inner.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? inner.size() : comma + 1;
    size_t first = item.find_first_not_of(' ');
    if (first == std::string::npos)
      continue;
    item = item.substr(first, item.find_last_not_of(' ') - first + 1);
    if (item.empty() || item.size() > 18 ||
        item.find_first_not_of("0123456789") != std::string::npos)
      return bad("shape " + shape);
    uint64_t n = std::stoull(item);
    out.shape.push_back(int64_t(n));
    elements = n && elements > limit / n ? limit + 1 : elements * n;
  }
  if (elements > limit)
    return bad("its shape " + shape + " needs more data than the file holds");
  out.values.resize(elements);
  const char *p = bytes.data() + at;
  for (uint64_t i = 0; i < elements; ++i, p += size) {
    double v;
    if (kind == 'f') {
      if (size == 2) {
        uint16_t h;
        std::memcpy(&h, p, 2);
        v = halfValue(h);
      } else if (size == 4) {
        float f;
        std::memcpy(&f, p, 4);
        v = f;
      } else {
        std::memcpy(&v, p, 8);
      }
    } else {
      uint64_t raw = 0;
      std::memcpy(&raw, p, size);
      if (kind == 'i' && size < 8 && (raw >> (8 * size - 1)) & 1)
        raw |= ~uint64_t(0) << (8 * size); // sign-extend
      v = kind == 'u' || kind == 'b' ? double(raw) : double(int64_t(raw));
    }
    out.values[i] = v;
  }
  return "";
}

std::string writeNpy(const std::string &path, const std::vector<int64_t> &shape,
                     const std::string &descr, const void *data, size_t elementBytes) {
  // A Python tuple: "()", "(5,)", "(2, 3)".
  std::string dims = "(";
  uint64_t elements = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    dims += (i ? ", " : "") + std::to_string(shape[i]);
    elements *= uint64_t(shape[i]);
  }
  dims += shape.size() == 1 ? ",)" : ")";
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + dims + ", }";
  // magic (6) + version (2) + header length (2) + header, padded to 64 with '\n' last.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  uint16_t len = uint16_t(header.size());
  std::string prefix = std::string("\x93NUMPY\x01\x00", 8) + char(len & 0xff) + char(len >> 8);
  return writeFileAtomically(path, "array", [&](const WriteBytes &write) {
    return write(prefix.data(), prefix.size()) && write(header.data(), header.size()) &&
           write(data, elements * elementBytes);
  });
}

} // namespace ra::rt
