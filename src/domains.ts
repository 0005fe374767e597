/** Every domain besides rooms, in the order their snapshot parts and guards run. */
import type { Domain, DomainDeps } from './core/domain.js';
import { ChatDomain } from './chat/chat-domain.js';
import { CommerceDomain } from './commerce/commerce-domain.js';
import { MediaDomain } from './media/media-domain.js';
import { SalesDomain } from './commerce/sales/sales-domain.js';
import { GiveawaysDomain } from './commerce/giveaways/giveaways-domain.js';

export function createDomains(deps: DomainDeps): Domain[] {
  const domains: Domain[] = [new ChatDomain(deps), new CommerceDomain(deps), new SalesDomain(deps), new GiveawaysDomain(deps)];
  // Media needs mediasoup worker processes; MEDIA_ENABLED=false runs without video.
  if (deps.config.MEDIA_ENABLED) domains.push(new MediaDomain(deps));
  return domains;
}
