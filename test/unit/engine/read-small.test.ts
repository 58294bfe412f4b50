/** readSmall through native readInto (one call: open, fstat, pread, close). */
import { readSmallCases } from './read-small.cases.js'

readSmallCases('native readInto')
