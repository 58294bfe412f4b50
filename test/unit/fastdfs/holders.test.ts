import { describe, expect, it } from 'vitest'
import { readCandidates } from '../../../src/personalities/fastdfs/storage/holders.js'
import { STORAGE_STATUS as S } from '../../../src/personalities/fastdfs/protocol/constants.js'
import type { StorageBrief } from '../../../src/personalities/fastdfs/storage/tracker-reporter.js'

const m = (ip: string, status: number, id = ''): StorageBrief => ({ ip, id, port: 23000, status })
const ips = (l: StorageBrief[]) => l.map((p) => p.ip)

describe('readCandidates (who may hold a file we lack)', () => {
  const group = [m('10.0.0.1', S.ACTIVE), m('10.0.0.2', S.ACTIVE), m('10.0.0.3', S.ACTIVE), m('10.0.0.4', S.ACTIVE)]

  it('asks the creator first, then the other ACTIVE members, never ourselves', () => {
    expect(ips(readCandidates({ sourceIp: '10.0.0.3' }, group, '10.0.0.1'))).toEqual(['10.0.0.3', '10.0.0.2', '10.0.0.4'])
  })

  it('skips members that left or are not ACTIVE, except the creator', () => {
    const g = [m('10.0.0.1', S.ACTIVE), m('10.0.0.2', S.WAIT_SYNC), m('10.0.0.3', S.SYNCING), m('10.0.0.4', S.DELETED), m('10.0.0.5', S.ACTIVE), m('10.0.0.6', S.ONLINE)]
    expect(ips(readCandidates({ sourceIp: '10.0.0.3' }, g, '10.0.0.1'))).toEqual(['10.0.0.3', '10.0.0.5'])
    // A creator that left the group is not asked.
    expect(ips(readCandidates({ sourceIp: '10.0.0.4' }, g, '10.0.0.1'))).toEqual(['10.0.0.5'])
  })

  it('asks a creator the trackers report OFFLINE last', () => {
    const g = [m('10.0.0.1', S.ACTIVE), m('10.0.0.2', S.OFFLINE), m('10.0.0.3', S.ACTIVE)]
    expect(ips(readCandidates({ sourceIp: '10.0.0.2' }, g, '10.0.0.1'))).toEqual(['10.0.0.3', '10.0.0.2'])
  })

  it('finds the creator by storage id when names carry ids', () => {
    const g = [m('10.0.0.1', S.ACTIVE, '100001'), m('10.0.0.2', S.ACTIVE, '100002'), m('10.0.0.3', S.ACTIVE, '100003')]
    expect(ips(readCandidates({ sourceId: 100003 }, g, '100001'))).toEqual(['10.0.0.3', '10.0.0.2'])
    // Unknown creator (not in the group any more): the ACTIVE members still are.
    expect(ips(readCandidates({ sourceId: 100009 }, g, '100001'))).toEqual(['10.0.0.2', '10.0.0.3'])
  })

  it('is empty when we are alone', () => {
    expect(readCandidates({ sourceIp: '10.0.0.1' }, [m('10.0.0.1', S.ACTIVE)], '10.0.0.1')).toEqual([])
  })
})
