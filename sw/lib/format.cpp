#include "sw/lib/format.h"

#include <stdint.h>

namespace fw {
namespace {

struct Out {
  char* buf;
  size_t cap;
  size_t pos;  // characters produced so far (may exceed cap)
  void put(char c) {
    if (pos + 1 < cap) buf[pos] = c;
    ++pos;
  }
  void pad(char c, int n) {
    for (int i = 0; i < n; ++i) put(c);
  }
};

struct Spec {
  bool left = false, zero = false, plus = false, space = false, alt = false;
  int width = 0;
  int prec = -1;
};

void emit_number(Out& o, const Spec& s, uint64_t mag, bool neg, unsigned base, bool upper) {
  char digits[24];
  int nd = 0;
  const char* set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  if (mag == 0 && s.prec != 0) digits[nd++] = '0';
  while (mag) {
    digits[nd++] = set[mag % base];
    mag /= base;
  }
  const char sign = neg ? '-' : s.plus ? '+' : s.space ? ' ' : 0;
  const char* prefix = "";
  if (s.alt && base == 16 && nd && !(nd == 1 && digits[0] == '0')) prefix = upper ? "0X" : "0x";
  if (s.alt && base == 8 && (nd == 0 || digits[nd - 1] != '0')) prefix = "0";
  int plen = 0;
  while (prefix[plen]) ++plen;
  const int zeros = s.prec > nd ? s.prec - nd : 0;
  const int body = (sign ? 1 : 0) + plen + zeros + nd;
  const int padn = s.width > body ? s.width - body : 0;
  const bool zero_pad = s.zero && !s.left && s.prec < 0;
  if (!s.left && !zero_pad) o.pad(' ', padn);
  if (sign) o.put(sign);
  for (int i = 0; i < plen; ++i) o.put(prefix[i]);
  if (zero_pad) o.pad('0', padn);
  o.pad('0', zeros);
  while (nd) o.put(digits[--nd]);
  if (s.left) o.pad(' ', padn);
}

void emit_string(Out& o, const Spec& s, const char* str) {
  if (!str) str = "(null)";
  int len = 0;
  while (str[len] && (s.prec < 0 || len < s.prec)) ++len;
  const int padn = s.width > len ? s.width - len : 0;
  if (!s.left) o.pad(' ', padn);
  for (int i = 0; i < len; ++i) o.put(str[i]);
  if (s.left) o.pad(' ', padn);
}

}  // namespace

int vsnprintf(char* buf, size_t n, const char* fmt, va_list ap) {
  Out o{buf, n, 0};
  for (const char* p = fmt; *p; ++p) {
    if (*p != '%') {
      o.put(*p);
      continue;
    }
    ++p;
    Spec s;
    for (;; ++p) {
      if (*p == '-') s.left = true;
      else if (*p == '0') s.zero = true;
      else if (*p == '+') s.plus = true;
      else if (*p == ' ') s.space = true;
      else if (*p == '#') s.alt = true;
      else break;
    }
    if (*p == '*') {
      s.width = va_arg(ap, int);
      if (s.width < 0) {
        s.left = true;
        s.width = -s.width;
      }
      ++p;
    } else {
      while (*p >= '0' && *p <= '9') s.width = s.width * 10 + (*p++ - '0');
    }
    if (*p == '.') {
      ++p;
      s.prec = 0;
      if (*p == '*') {
        s.prec = va_arg(ap, int);
        ++p;
      } else {
        while (*p >= '0' && *p <= '9') s.prec = s.prec * 10 + (*p++ - '0');
      }
    }
    // Length: 0 int, 1 long, 2 long long, -1 short, -2 char, 3 size_t/intmax/ptrdiff.
    int len = 0;
    if (*p == 'h') {
      len = -1;
      if (*++p == 'h') {
        len = -2;
        ++p;
      }
    } else if (*p == 'l') {
      len = 1;
      if (*++p == 'l') {
        len = 2;
        ++p;
      }
    } else if (*p == 'z' || *p == 'j' || *p == 't') {
      len = 3;
      ++p;
    }
    const char c = *p;
    if (c == '\0') break;
    switch (c) {
      case 'd':
      case 'i': {
        int64_t v;
        if (len == 1) v = va_arg(ap, long);
        else if (len == 2) v = va_arg(ap, long long);
        else if (len == 3) v = va_arg(ap, long);
        else v = va_arg(ap, int);
        if (len == -1) v = static_cast<short>(v);
        if (len == -2) v = static_cast<signed char>(v);
        const bool neg = v < 0;
        const uint64_t mag = neg ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
        emit_number(o, s, mag, neg, 10, false);
        break;
      }
      case 'u':
      case 'x':
      case 'X':
      case 'o': {
        uint64_t v;
        if (len == 1) v = va_arg(ap, unsigned long);
        else if (len == 2) v = va_arg(ap, unsigned long long);
        else if (len == 3) v = va_arg(ap, size_t);
        else v = va_arg(ap, unsigned);
        if (len == -1) v = static_cast<unsigned short>(v);
        if (len == -2) v = static_cast<unsigned char>(v);
        const unsigned base = c == 'u' ? 10 : c == 'o' ? 8 : 16;
        emit_number(o, s, v, false, base, c == 'X');
        break;
      }
      case 'p': {
        Spec ps = s;
        ps.alt = true;
        emit_number(o, ps, reinterpret_cast<uintptr_t>(va_arg(ap, void*)), false, 16, false);
        break;
      }
      case 'c': {
        const char ch = static_cast<char>(va_arg(ap, int));
        const int padn = s.width > 1 ? s.width - 1 : 0;
        if (!s.left) o.pad(' ', padn);
        o.put(ch);
        if (s.left) o.pad(' ', padn);
        break;
      }
      case 's':
        emit_string(o, s, va_arg(ap, const char*));
        break;
      case '%':
        o.put('%');
        break;
      default:
        // Unknown conversion: show it verbatim rather than guess its argument.
        o.put('%');
        o.put(c);
        break;
    }
  }
  if (n) buf[o.pos < n ? o.pos : n - 1] = '\0';
  return static_cast<int>(o.pos);
}

int snprintf(char* buf, size_t n, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const int r = vsnprintf(buf, n, fmt, ap);
  va_end(ap);
  return r;
}

void StrBuf::vprintf(const char* fmt, va_list ap) {
  if (len_ + 1 >= cap_) return;
  const int r = fw::vsnprintf(buf_ + len_, cap_ - len_, fmt, ap);
  if (r > 0) len_ = len_ + static_cast<size_t>(r) < cap_ ? len_ + static_cast<size_t>(r) : cap_ - 1;
}

void StrBuf::printf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
}

}  // namespace fw
