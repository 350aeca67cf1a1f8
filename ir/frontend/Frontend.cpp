//===- Frontend.cpp - loading .graph files and their imports --------------===//
//
// Files load depth-first: an import is parsed before the file that imports
// it, so `modules` ends with the compiled file. A file imported twice loads
// once; a cycle is an error naming the chain.
//
//===----------------------------------------------------------------------===//
#include "ir/frontend/Frontend.h"
#include "ir/frontend/Elaborator.h"
#include "ir/frontend/Parser.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace mlir;

namespace ra::graph {

void registerFrontendDialects(MLIRContext &ctx) { ctx.loadDialect<RaDialect, func::FuncDialect>(); }

namespace {

class Loader {
public:
  Loader(MLIRContext &ctx, llvm::SourceMgr &mgr, const FrontendOptions &options)
      : ctx(ctx), mgr(mgr), options(options) {}

  bool loadFile(StringRef path, std::optional<SrcLoc> from, int depth);
  bool loadBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer, int depth);
  OwningOpRef<ModuleOp> elaborate() {
    Elaborator el(ctx, files, modules, options);
    return el.run();
  }

private:
  bool fail(std::optional<SrcLoc> at, const Twine &message) {
    if (at)
      emitError(FileLineColLoc::get(&ctx, files[at->file].path, at->line, at->col)) << message;
    else
      emitError(UnknownLoc::get(&ctx)) << message;
    return false;
  }

  MLIRContext &ctx;
  llvm::SourceMgr &mgr;
  const FrontendOptions &options;
  std::vector<SourceFile> files;
  std::vector<Module> modules;
  llvm::StringMap<bool> loaded; // real path -> finished loading
  std::vector<std::string> chain;
};

bool Loader::loadFile(StringRef path, std::optional<SrcLoc> from, int depth) {
  if (depth > kMaxImportDepth)
    return fail(from, "imports nest deeper than " + Twine(kMaxImportDepth) + " files");
  llvm::SmallString<256> real;
  if (std::error_code ec = llvm::sys::fs::real_path(path, real))
    return fail(from, "cannot read '" + path + "': " + ec.message());
  if (llvm::sys::fs::is_directory(real))
    return fail(from, "cannot read '" + path + "': it is a directory");
  if (auto it = loaded.find(real); it != loaded.end()) {
    if (it->second)
      return true; // already imported
    std::string cycle;
    for (auto &c : chain)
      cycle += c + " -> ";
    return fail(from, "import cycle: " + cycle + path);
  }
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer)
    return fail(from, "cannot read '" + path + "': " + buffer.getError().message());
  loaded[real] = false;
  chain.push_back(path.str());
  bool ok = loadBuffer(std::move(*buffer), depth);
  chain.pop_back();
  loaded[real] = true;
  return ok;
}

bool Loader::loadBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer, int depth) {
  std::string path = buffer->getBufferIdentifier().str();
  StringRef text = buffer->getBuffer();
  uint32_t index = files.size();
  mgr.AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
  files.push_back({path, text});
  if ((int64_t)text.size() > kMaxSourceBytes)
    return fail(SrcLoc{index, 1, 1}, "the file is larger than 16 MiB");
  if (size_t bad = firstInvalidUtf8(text); bad != StringRef::npos) {
    StringRef before = text.take_front(bad);
    uint32_t line = 1 + before.count('\n');
    uint32_t col = 1 + bad - (before.rfind('\n') == StringRef::npos ? 0 : before.rfind('\n') + 1);
    return fail(SrcLoc{index, line, col}, "the file is not valid UTF-8 (byte 0x" +
                                              llvm::utohexstr((unsigned char)text[bad]) +
                                              " at offset " + Twine(bad) + ")");
  }
  Parser parser(text, index, [&](SrcLoc at, const std::string &message) { fail(at, message); });
  auto parsed = parser.parseModule();
  if (!parsed)
    return false;
  for (const Import &imp : parsed->imports) {
    if (!options.allowImports)
      return fail(imp.loc, "imports are disabled here");
    llvm::SmallString<256> target(llvm::sys::path::parent_path(path));
    llvm::sys::path::append(target, imp.path);
    if (!loadFile(target, imp.loc, depth + 1))
      return false;
  }
  modules.push_back(std::move(*parsed));
  return true;
}

} // namespace

OwningOpRef<ModuleOp> compileGraphFile(MLIRContext &ctx, llvm::SourceMgr &sources, StringRef path,
                                       const FrontendOptions &options) {
  registerFrontendDialects(ctx);
  Loader loader(ctx, sources, options);
  if (!loader.loadFile(path, std::nullopt, 0))
    return nullptr;
  return loader.elaborate();
}

OwningOpRef<ModuleOp> compileGraphBuffer(MLIRContext &ctx, llvm::SourceMgr &sources,
                                         std::unique_ptr<llvm::MemoryBuffer> buffer,
                                         const FrontendOptions &options) {
  registerFrontendDialects(ctx);
  Loader loader(ctx, sources, options);
  if (!loader.loadBuffer(std::move(buffer), 0))
    return nullptr;
  return loader.elaborate();
}

} // namespace ra::graph
