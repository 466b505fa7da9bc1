import { expect } from 'chai';
import { rotated } from '../../bench/stats.ts';

describe('benchmark: the order servers are measured in', () => {
  it('turns from one round to the next, so that each server takes each place equally often', () => {
    const targets = ['baseline', 'tobira', 'candidate'];
    const rounds = Array.from({ length: 6 }, (_, round) => rotated(targets, round));
    expect(rounds.slice(0, 3)).to.deep.equal([
      ['baseline', 'tobira', 'candidate'],
      ['tobira', 'candidate', 'baseline'],
      ['candidate', 'baseline', 'tobira'],
    ]);
    for (const target of targets) {
      const places = rounds.map((order) => order.indexOf(target));
      expect(places.filter((p) => p === 0), `${target} first`).to.have.length(2);
    }
    expect(rotated(['baseline', 'tobira'], 3)).to.deep.equal(['tobira', 'baseline']);
    expect(rotated([], 5)).to.deep.equal([]);
    expect(targets, 'left as it was').to.deep.equal(['baseline', 'tobira', 'candidate']);
  });
});
