// `node scripts/check-node.mjs`: exits 1 with one line saying what to do when this Node is too old
// for meshlet (node:sqlite, AbortSignal.any, ...). Every npm script runs it first, so an old Node
// says so instead of crashing with "No such built-in module: node:sqlite". Syntax for any Node.
var need = 24
var have = process.versions.node
if (Number(have.split('.')[0]) < need) {
  process.stderr.write('meshlet needs Node >= ' + need + ' (this is v' + have + ', ' + process.execPath + '): run `. scripts/bootstrap.sh` (installs Node ' + need + ' into .tools/ and puts it on PATH), or install Node ' + need + ' (https://nodejs.org)\n')
  process.exit(1)
}
