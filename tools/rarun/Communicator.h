//===- Communicator.h - the processes a training run spans --------*- C++ -*-===//
//
// One process, or the ranks `mpirun -np N rarun train ...` started (MPI, as
// llm.c launches and bootstraps). rarun joins MPI only when a launcher
// started it (Open MPI's OMPI_COMM_WORLD_SIZE, or PMI_SIZE / PMIX_RANK), so a
// plain `rarun train` neither needs nor touches MPI. Gradients are summed
// with MPI_Allreduce on host buffers: on the CPU, and on cuda-emu, where the
// kernels' outputs are host memory anyway. (On a real GPU the all-reduce
// belongs to NCCL over device buffers, its unique id broadcast over MPI;
// that path is not built, since no GPU has been available to test it.)
//
//===----------------------------------------------------------------------===//
#ifndef RARUN_COMMUNICATOR_H
#define RARUN_COMMUNICATOR_H

#include <cstddef>
#include <string>

namespace rarun {

class Communicator {
public:
  /// The world of this process: set up by init, a world of one before.
  static Communicator &world();
  /// Joins the MPI job when launched by one. "" or an error.
  static std::string init(int *argc, char ***argv);

  int rank() const { return rankIndex; }
  int size() const { return worldSize; }
  bool usesMpi() const { return mpi; }

  /// Element-wise sum over the ranks, in place. A no-op in a world of one.
  void allreduceSum(float *data, size_t count);
  /// Rank 0's values on every rank.
  void broadcast(float *data, size_t count);
  /// The lowest rank for which `condition` holds, or -1 (on every rank).
  int firstRankWhere(bool condition);
  /// Ends MPI: finalizes after a success, aborts the whole job (every rank)
  /// after a failure, so that no rank waits forever for one that has gone.
  void finish(int status);
  /// Seconds spent in allreduceSum since the last call.
  double takeReduceSeconds();

private:
  int rankIndex = 0, worldSize = 1;
  bool mpi = false;
  double reduceSeconds = 0;
};

} // namespace rarun

#endif // RARUN_COMMUNICATOR_H
