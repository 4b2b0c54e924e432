import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { formatFields, formatTable, type Cell, type TableOptions } from '../../src/client/table.js'

describe('formatTable', () => {
  test.each<[string, string[], Cell[][], TableOptions, string]>([
    ['pads columns to the widest cell', ['ID', 'NAME'], [['1', 'web'], ['22', 'db']], {}, 'ID  NAME\n1   web\n22  db'],
    ['right-aligns numeric columns on request', ['NAME', 'CPU'], [['web', 100], ['db', 2500]], { align: ['left', 'right'] }, 'NAME   CPU\nweb    100\ndb    2500'],
    ['shows empty, null and undefined cells as -', ['A', 'B', 'C'], [['', null, undefined]], {}, 'A  B  C\n-  -  -'],
    ['uses a custom empty marker', ['A', 'B'], [['x', undefined]], { empty: '?' }, 'A  B\nx  ?'],
    ['pads short rows and widens for extra cells', ['A'], [['x', 'extra']], {}, 'A\nx  extra'],
    ['never leaves trailing spaces', ['NAME', 'NOTE'], [['averylongname', '']], { empty: '' }, 'NAME           NOTE\naverylongname'],
    ['flattens newlines and tabs inside a cell', ['MSG'], [['line one\nline\ttwo']], {}, 'MSG\nline one line two'],
    ['clips a capped column with an ellipsis', ['IMAGE'], [['registry.example.com/team/app:1.2.3']], { maxWidth: [12] }, 'IMAGE\nregistry.ex…'],
    ['counts code points, not UTF-16 units', ['N', 'X'], [['é🙂', 'a'], ['ab', 'b']], {}, 'N   X\né🙂  a\nab  b'],
    ['honours a custom gap', ['A', 'B'], [['1', '2']], { gap: 1 }, 'A B\n1 2'],
    ['renders booleans and zero', ['OK', 'N'], [[true, 0]], {}, 'OK    N\ntrue  0'],
    ['a header alone when there are no rows', ['ID', 'NAME'], [], {}, 'ID  NAME'],
  ])('%s', (_name, header, rows, opts, expected) => {
    expect(formatTable(header, rows, opts)).toBe(expected)
  })

  test('for any cells, every column starts at the same offset on every line and reads back intact', () => {
    const word = fc.stringMatching(/^[a-z0-9:.\/-]{1,12}$/)
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }).chain((n) => fc.tuple(fc.array(word, { minLength: n, maxLength: n }), fc.array(fc.array(word, { minLength: n, maxLength: n }), { maxLength: 6 }))), ([header, rows]) => {
        const lines = formatTable(header, rows).split('\n')
        const all = [header, ...rows]
        expect(lines.length).toBe(all.length)
        lines.forEach((line, i) => expect(line.split(/ {2,}/)).toEqual(all[i]))
        // Column k starts where column k-1's widest cell ends plus the gap, on every line.
        const offsets = lines.map((line, i) => {
          let at = 0
          return all[i]!.map((cell) => {
            const pos = line.indexOf(cell, at)
            at = pos + cell.length
            return pos
          })
        })
        for (const o of offsets) expect(o).toEqual(offsets[0])
      }),
    )
  })
})

describe('formatFields', () => {
  test.each<[string, [string, Cell][], string]>([
    ['aligns values after the longest key', [['state', 'running'], ['workload', 'at://x']], 'state     running\nworkload  at://x'],
    ['skips undefined values but shows null as -', [['a', undefined], ['bb', null]], 'bb  -'],
    ['nothing to show is an empty string', [], ''],
  ])('%s', (_name, fields, expected) => {
    expect(formatFields(fields)).toBe(expected)
  })
})
