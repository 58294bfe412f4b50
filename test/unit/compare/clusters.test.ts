/** How the compare command turns --fastdfs-tracker / --fastdfs-cluster into external targets. */
import { describe, expect, it } from 'vitest'
import { fastdfsClusters } from '../../../src/compare/main.js'

describe('fastdfsClusters', () => {
  it('takes every --fastdfs-tracker as one cluster, and each --fastdfs-cluster as another', () => {
    expect(fastdfsClusters({})).toEqual([])
    expect(fastdfsClusters({ fastdfsTracker: ['10.0.0.1:22122', '10.0.0.2:22122'] })).toEqual([['10.0.0.1:22122', '10.0.0.2:22122']])
    expect(fastdfsClusters({ fastdfsCluster: ['127.0.0.1:4000', ' 127.0.0.1:5000 , 127.0.0.2:5000 '] })).toEqual([['127.0.0.1:4000'], ['127.0.0.1:5000', '127.0.0.2:5000']])
    expect(fastdfsClusters({ fastdfsTracker: ['127.0.0.10:32122'], fastdfsCluster: ['127.0.0.1:4000'] })).toEqual([['127.0.0.10:32122'], ['127.0.0.1:4000']])
  })

  it('refuses two clusters named by the same first tracker (their report rows would be one)', () => {
    expect(() => fastdfsClusters({ fastdfsTracker: ['127.0.0.1:4000'], fastdfsCluster: ['127.0.0.1:4000'] })).toThrow(/same tracker/)
  })
})
