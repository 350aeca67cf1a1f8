//===- Communicator.cpp - the processes a training run spans --------------===//
#include "Communicator.h"

#include <chrono>
#include <climits>
#include <cstdlib>

#ifdef RACC_HAVE_MPI
#include <mpi.h>
#endif

namespace rarun {

namespace {
bool launchedByMpi() {
  for (const char *v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (const char *s = std::getenv(v); s && *s)
      return true;
  return false;
}
// MPI counts are ints: large buffers go in parts.
constexpr size_t kPart = size_t(1) << 28;
} // namespace

Communicator &Communicator::world() {
  static Communicator w;
  return w;
}

std::string Communicator::init(int *argc, char ***argv) {
  if (!launchedByMpi())
    return "";
#ifdef RACC_HAVE_MPI
  Communicator &w = world();
  if (MPI_Init(argc, argv) != MPI_SUCCESS)
    return "MPI_Init failed";
  // Errors end the job rather than return codes nobody checks.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
  MPI_Comm_rank(MPI_COMM_WORLD, &w.rankIndex);
  MPI_Comm_size(MPI_COMM_WORLD, &w.worldSize);
  w.mpi = true;
  return "";
#else
  (void)argc;
  (void)argv;
  return "an MPI launcher started rarun, but rarun was built without MPI (install "
         "libopenmpi-dev and rebuild)";
#endif
}

void Communicator::allreduceSum(float *data, size_t count) {
#ifdef RACC_HAVE_MPI
  if (!mpi || worldSize == 1)
    return;
  auto t0 = std::chrono::steady_clock::now();
  for (size_t at = 0; at < count; at += kPart)
    MPI_Allreduce(MPI_IN_PLACE, data + at, int(std::min(kPart, count - at)), MPI_FLOAT, MPI_SUM,
                  MPI_COMM_WORLD);
  reduceSeconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
#else
  (void)data;
  (void)count;
#endif
}

void Communicator::broadcast(float *data, size_t count) {
#ifdef RACC_HAVE_MPI
  if (!mpi || worldSize == 1)
    return;
  for (size_t at = 0; at < count; at += kPart)
    MPI_Bcast(data + at, int(std::min(kPart, count - at)), MPI_FLOAT, 0, MPI_COMM_WORLD);
#else
  (void)data;
  (void)count;
#endif
}

int Communicator::firstRankWhere(bool condition) {
  int mine = condition ? rankIndex : INT_MAX;
#ifdef RACC_HAVE_MPI
  if (mpi && worldSize > 1)
    MPI_Allreduce(MPI_IN_PLACE, &mine, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
#endif
  return mine == INT_MAX ? -1 : mine;
}

void Communicator::finish(int status) {
#ifdef RACC_HAVE_MPI
  if (!mpi)
    return;
  if (status != 0)
    MPI_Abort(MPI_COMM_WORLD, status);
  MPI_Finalize();
#else
  (void)status;
#endif
}

double Communicator::takeReduceSeconds() {
  double s = reduceSeconds;
  reduceSeconds = 0;
  return s;
}

} // namespace rarun
