#include "tb/workload/trace_input.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "tb/workload/host_memory.h"

namespace tb {

// A decompressor: pulls compressed bytes from the file through its own
// input buffer and produces text.
struct TraceInput::Decoder {
  static constexpr size_t kInBuf = 256 * 1024;
  explicit Decoder(TraceInput& in) : in_(in), buf_(new uint8_t[kInBuf]) {}
  virtual ~Decoder() = default;
  virtual size_t read(char* out, size_t n) = 0;

 protected:
  // Refills the input buffer when it is empty; false at the end of the file.
  bool refill() {
    if (pos_ < len_) return true;
    pos_ = 0;
    len_ = in_.read_file(buf_.get(), kInBuf);
    return len_ > 0;
  }
  TraceInput& in_;
  std::unique_ptr<uint8_t[]> buf_;
  size_t pos_ = 0, len_ = 0;
  bool eof_ = false;
};

namespace {

// liblzma's dictionary (MiBs, filled as text is decoded) in host huge pages
// (host_memory.h). (libzstd's hook for this is not in its stable API.)
void* lzma_host_alloc(void*, size_t nmemb, size_t size) {
  return size && nmemb > SIZE_MAX / size ? nullptr : host_alloc(nmemb * size);
}
void lzma_host_free(void*, void* p) { host_free(p); }
const lzma_allocator kLzmaHostAllocator = {lzma_host_alloc, lzma_host_free, nullptr};

const char* lzma_error(lzma_ret r) {
  switch (r) {
    case LZMA_MEM_ERROR: return "out of memory";
    case LZMA_FORMAT_ERROR: return "not in the xz format";
    case LZMA_OPTIONS_ERROR: return "unsupported xz options";
    case LZMA_DATA_ERROR: return "corrupt xz data";
    case LZMA_BUF_ERROR: return "truncated xz data";
    default: return "xz decoder error";
  }
}

class XzDecoder : public TraceInput::Decoder {
 public:
  explicit XzDecoder(TraceInput& in) : Decoder(in) {
    s_.allocator = &kLzmaHostAllocator;
    if (lzma_stream_decoder(&s_, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK)
      throw std::runtime_error("cannot start the xz decoder");
  }
  ~XzDecoder() override { lzma_end(&s_); }
  size_t read(char* out, size_t n) override {
    if (done_) return 0;
    s_.next_out = reinterpret_cast<uint8_t*>(out);
    s_.avail_out = n;
    while (s_.avail_out == n) {
      if (!eof_ && !refill()) eof_ = true;
      s_.next_in = buf_.get() + pos_;
      s_.avail_in = len_ - pos_;
      const lzma_ret r = lzma_code(&s_, eof_ ? LZMA_FINISH : LZMA_RUN);
      pos_ = len_ - s_.avail_in;
      if (r == LZMA_STREAM_END) {
        done_ = true;
        break;
      }
      if (r != LZMA_OK) throw TraceDataError(lzma_error(r));
    }
    return n - s_.avail_out;
  }

 private:
  lzma_stream s_ = LZMA_STREAM_INIT;
  bool done_ = false;
};

class GzipDecoder : public TraceInput::Decoder {
 public:
  explicit GzipDecoder(TraceInput& in) : Decoder(in) {
    std::memset(&z_, 0, sizeof z_);
    if (inflateInit2(&z_, 15 + 16) != Z_OK) throw std::runtime_error("cannot start the gzip decoder");
  }
  ~GzipDecoder() override { inflateEnd(&z_); }
  size_t read(char* out, size_t n) override {
    z_.next_out = reinterpret_cast<Bytef*>(out);
    z_.avail_out = static_cast<uInt>(n);
    while (z_.avail_out == n) {
      // At the end of the file the decoder may still hold output: call it
      // with no input until it has none (fine between members, truncation
      // inside one).
      const bool more = refill();
      if (!more && !in_member_) break;
      z_.next_in = more ? buf_.get() + pos_ : nullptr;
      z_.avail_in = more ? static_cast<uInt>(len_ - pos_) : 0;
      in_member_ = true;
      const int r = inflate(&z_, Z_NO_FLUSH);
      if (more) pos_ = len_ - z_.avail_in;
      if (r == Z_STREAM_END) {
        in_member_ = false;  // gzip allows several members, one after another
        inflateReset(&z_);
      } else if (r == Z_BUF_ERROR && !more) {
        throw TraceDataError("truncated gzip data");
      } else if (r != Z_OK && r != Z_BUF_ERROR) {
        throw TraceDataError(fmt::format("corrupt gzip data ({})", z_.msg ? z_.msg : "inflate failed"));
      }
    }
    return n - z_.avail_out;
  }

 private:
  z_stream z_;
  bool in_member_ = false;
};

class ZstdDecoder : public TraceInput::Decoder {
 public:
  explicit ZstdDecoder(TraceInput& in) : Decoder(in), d_(ZSTD_createDStream()) {
    if (!d_) throw std::runtime_error("cannot start the zstd decoder");
    ZSTD_initDStream(d_);
  }
  ~ZstdDecoder() override { ZSTD_freeDStream(d_); }
  size_t read(char* out, size_t n) override {
    ZSTD_outBuffer o{out, n, 0};
    while (o.pos == 0) {
      // At the end of the file the decoder may still hold output: call it
      // with no input until a frame is complete, or nothing comes out.
      const bool more = refill();
      if (!more && !pending_) break;
      ZSTD_inBuffer i{buf_.get(), more ? len_ : 0, more ? pos_ : 0};
      const size_t r = ZSTD_decompressStream(d_, &o, &i);
      if (more) pos_ = i.pos;
      if (ZSTD_isError(r)) throw TraceDataError(fmt::format("corrupt zstd data ({})", ZSTD_getErrorName(r)));
      pending_ = r != 0;  // 0: a frame ended exactly here
      if (!more && pending_ && o.pos == 0) throw TraceDataError("truncated zstd data");
    }
    return o.pos;
  }

 private:
  ZSTD_DStream* d_;
  bool pending_ = false;
};

}  // namespace

const char* TraceInput::format_name(Format f) {
  switch (f) {
    case Format::plain: return "plain text";
    case Format::xz: return "xz";
    case Format::gzip: return "gzip";
    case Format::zstd: return "zstd";
  }
  return "?";
}

TraceInput::TraceInput(const std::string& path, size_t block_bytes) : path_(path), block_bytes_(block_bytes) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st{};
  if (fd_ < 0 || fstat(fd_, &st) != 0 || S_ISDIR(st.st_mode)) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    throw std::runtime_error(fmt::format("{}: cannot open trace", path));
  }
  file_size_ = static_cast<uint64_t>(st.st_size);
#ifdef POSIX_FADV_SEQUENTIAL
  posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  // By content: the magic bytes of each format.
  uint8_t m[6] = {};
  const ssize_t got = ::pread(fd_, m, sizeof m, 0);
  auto starts = [&](std::initializer_list<uint8_t> magic) {
    if (got < static_cast<ssize_t>(magic.size())) return false;
    return std::equal(magic.begin(), magic.end(), m);
  };
  try {
    if (starts({0xfd, '7', 'z', 'X', 'Z', 0x00})) {
      format_ = Format::xz;
      dec_ = std::make_unique<XzDecoder>(*this);
    } else if (starts({0x1f, 0x8b})) {
      format_ = Format::gzip;
      dec_ = std::make_unique<GzipDecoder>(*this);
    } else if (starts({0x28, 0xb5, 0x2f, 0xfd})) {
      format_ = Format::zstd;
      dec_ = std::make_unique<ZstdDecoder>(*this);
    } else if (starts({'B', 'Z', 'h'})) {
      throw std::runtime_error("bzip2-compressed traces are not supported (use xz, gzip or zstd)");
    }
  } catch (const std::exception& e) {
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error(fmt::format("{}: {}", path, e.what()));
  }
}

TraceInput::~TraceInput() {
  ring_.reset();  // joins the thread before the decoder goes
  dec_.reset();
  if (fd_ >= 0) ::close(fd_);
}

size_t TraceInput::read_file(uint8_t* buf, size_t n) {
  for (;;) {
    const ssize_t r = ::read(fd_, buf, n);
    if (r >= 0) {
      file_pos_.fetch_add(static_cast<uint64_t>(r), std::memory_order_relaxed);
      return static_cast<size_t>(r);
    }
    if (errno != EINTR) throw std::runtime_error(fmt::format("{}: read error: {}", path_, std::strerror(errno)));
  }
}

void TraceInput::fill(char* buf, size_t n, size_t& len) {
  while (len < n) {
    const size_t got =
        dec_ ? dec_->read(buf + len, n - len) : read_file(reinterpret_cast<uint8_t*>(buf) + len, n - len);
    if (got == 0) break;
    len += got;
  }
}

const char* TraceInput::next(size_t& n) {
  if (dec_) {
    if (!ring_)
      ring_ = std::make_unique<BlockRing<char>>(block_bytes_, kSlack,
                                                [this](char* buf, size_t n, size_t& len) { fill(buf, n, len); });
    return ring_->next(n);
  }
  // Plain text needs no thread: the kernel's copy is all the work.
  if (!plain_.data()) plain_ = HostBuffer(block_bytes_ + kSlack);
  char* const text = reinterpret_cast<char*>(plain_.data());
  n = 0;
  fill(text, block_bytes_, n);
  return text;
}

}  // namespace tb
