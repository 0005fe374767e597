/** Every domain besides rooms, in the order their snapshot parts and guards run. */
import type { Domain, DomainDeps } from './core/domain.js';
import { ChatDomain } from './chat/chat-domain.js';
import { CommerceDomain } from './commerce/commerce-domain.js';
import { SalesDomain } from './commerce/sales/sales-domain.js';

export function createDomains(deps: DomainDeps): Domain[] {
  return [new ChatDomain(deps), new CommerceDomain(deps), new SalesDomain(deps)];
}
