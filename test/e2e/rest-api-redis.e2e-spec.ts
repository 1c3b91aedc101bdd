import { restApiSuite } from './support/rest-api.suite';

restApiSuite(true);
